// impasto's page: pick a photo and paintings, start a job, watch its event stream, keep the result.
// No framework and no build step: ES modules, and everything they load comes from this server.
import { $, api, showBanner, state } from "./common.js";
import { fillForm, sampleButton, wireForm } from "./form.js";
import { refreshResults, route, wireJob } from "./job.js";

async function init() {
  wireForm();
  wireJob();
  window.addEventListener("popstate", route);
  try {
    const [options, samples] = await Promise.all([api("/api/options"), api("/api/samples")]);
    state.options = options;
    fillForm();
    $("content-samples").replaceChildren(...samples.filter((s) => s.kind === "photo").map((s) => sampleButton(s, "content")));
    $("style-samples").replaceChildren(...samples.filter((s) => s.kind === "painting").map((s) => sampleButton(s, "style")));
  } catch (e) {
    if (!$("banner").textContent) showBanner(`Cannot reach the server: ${e.message}`);
    return;
  }
  route();
  refreshResults();
}

init();
