// One job, live: its event stream drawn on the page; the gallery of finished results; the routes.
import { $, api, formError, state } from "./common.js";

let current = null;   // the job shown: {id, source, shown (preview version), state}

function clock(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(s).padStart(2, "0")}`;
}

function describe(job) {
  const p = job.progress || {};
  switch (job.state) {
    case "queued": return job.position === 1 ? "Waiting: next in line" : `Waiting: ${job.position - 1} jobs ahead`;
    case "running": {
      if (job.cancelling) return "Cancelling…";
      if (!p.step) return "Starting: loading the network…";
      const scale = p.scales > 1 ? `scale ${p.scale}/${p.scales} (${p.width}×${p.height}) · ` : "";
      const eta = p.eta !== undefined ? ` · ${clock(p.eta)} left` : "";
      return `Painting · ${scale}step ${p.step}/${p.total}${eta}`;
    }
    case "done": return `Done: ${job.result_size[0]}×${job.result_size[1]} px in ${clock(job.finished - job.started)}`;
    case "cancelled": return "Cancelled";
    default: return `Failed: ${job.error}`;
  }
}

function show(job) {
  if (!current || current.id !== job.id) return;  // a late answer about a job no longer shown
  if (current.state !== job.state) $("announce").textContent = describe(job);  // state changes only, not steps
  current.state = job.state;
  const status = $("status");
  status.textContent = describe(job);
  status.className = `status ${job.state}`;
  const o = job.options;
  $("inputs").textContent = `${job.content_name} in the style of ${job.style_names.join(" + ")}` +
    (o.size ? ` · ${o.size} px` : "") + (o.preset && o.preset !== Object.keys(state.options.presets)[0] ? ` · ${o.preset}` : "");
  $("meter").hidden = false;
  const done = job.state === "done" ? 1 : (job.progress && job.progress.done) || 0;
  $("fill").style.width = `${(done * 100).toFixed(1)}%`;
  $("meter").setAttribute("aria-valuenow", String(Math.round(done * 100)));
  const active = job.state === "queued" || job.state === "running";
  $("cancel").hidden = !active;
  if (!active) $("cancel").disabled = false;
  else if (job.cancelling) $("cancel").disabled = true;
  if (!job.preview) $("empty").textContent = EMPTY[job.state] || "";
  $("download").hidden = job.state !== "done";
  $("download").href = `/api/jobs/${job.id}/result?download=1`;
  $("delete").hidden = !["done", "failed", "cancelled"].includes(job.state);
  if (job.preview && job.preview !== current.shown) {
    current.shown = job.preview;
    $("preview").src = `/api/jobs/${job.id}/preview?v=${job.preview}`;
  }
  if (["done", "failed", "cancelled"].includes(job.state)) {
    if (current.source) current.source.close();
    refreshResults();
  }
}

const EMPTY = {
  queued: "Waiting for its turn…",
  running: "Waiting for the first step…",
  failed: "No picture: the job failed.",
  cancelled: "Cancelled before its first picture.",
};

function clearPreview() {
  const preview = $("preview");
  preview.removeAttribute("src");  // a late load of the previous job's image must not show
  preview.hidden = true;
  preview.dataset.loads = "0";
  $("empty").hidden = false;
}

export function watch(id) {
  if (current && current.source) current.source.close();
  current = { id, source: null, shown: 0, state: null };
  clearPreview();
  $("empty").textContent = "Loading…";
  const mine = () => current && current.id === id;
  const source = new EventSource(`/api/jobs/${id}/events`);
  current.source = source;
  source.addEventListener("job", (e) => { if (mine()) show(JSON.parse(e.data)); });
  source.addEventListener("gone", () => { source.close(); if (mine()) showNothing("This job was deleted."); });
  source.onerror = () => {
    if (!mine() || ["done", "failed", "cancelled"].includes(current.state)) { source.close(); return; }
    if (source.readyState !== EventSource.CLOSED) return;  // the browser reconnects by itself
    // The stream was refused (a proxy, a restart): show what there is, and try again shortly.
    api(`/api/jobs/${id}`).then((job) => {
      if (!mine()) return;
      show(job);
      if (!["done", "failed", "cancelled"].includes(job.state)) setTimeout(() => { if (mine()) watch(id); }, 2000);
    }, (e) => { if (mine()) showNothing(e.message); });
  };
}

function showNothing(text) {
  if (current && current.source) current.source.close();
  current = null;
  clearPreview();
  $("empty").hidden = false;
  $("empty").textContent = text;
  for (const id of ["meter", "cancel", "download", "delete"]) $(id).hidden = true;
  $("status").textContent = ""; $("inputs").textContent = "";
}

export async function refreshResults() {
  let jobs;
  try { jobs = await api("/api/jobs"); } catch (e) { return; }
  const done = jobs.filter((j) => j.state === "done");
  $("results").replaceChildren(...(done.length ? done.map((job) => {
    const card = document.createElement("a");
    card.className = "card"; card.href = `/jobs/${job.id}`;
    const img = document.createElement("img");
    img.src = `/api/jobs/${job.id}/thumbnail`; img.alt = `${job.content_name} in the style of ${job.style_names.join(" + ")}`;
    img.loading = "lazy";
    const label = document.createElement("span");
    label.textContent = `${job.style_names.join(" + ")} · ${job.result_size.join("×")}`;
    card.append(img, label);
    card.addEventListener("click", (e) => { e.preventDefault(); history.pushState({}, "", card.href); route(); });
    return card;
  }) : [Object.assign(document.createElement("p"), { className: "none", textContent: "None yet." })]));
}

export function route() {
  const match = location.pathname.match(/^\/jobs\/([^/]+)$/);
  if (match) watch(match[1]); else showNothing("Choose a photo and a painting, then start.\nThe picture forms here as it paints.");
}

export function wireJob() {
  const preview = $("preview");
  preview.addEventListener("error", () => {  // no picture after all (a disk that lost it)
    preview.hidden = true; $("empty").hidden = false;
    $("empty").textContent = (current && EMPTY[current.state]) || "No picture.";
  });
  preview.addEventListener("load", () => {
    preview.hidden = false; $("empty").hidden = true;
    preview.dataset.loads = String(Number(preview.dataset.loads || 0) + 1);
  });
  $("cancel").addEventListener("click", () => {
    if (!current) return;
    $("cancel").disabled = true;  // one click: a second one has nothing left to do
    api(`/api/jobs/${current.id}`, { method: "DELETE" }).catch((e) => {
      $("cancel").disabled = false;
      if (!/already finished/.test(e.message)) formError(e.message);
    });
  });
  $("delete").addEventListener("click", async () => {
    if (!current || !confirm("Delete this job and its picture from the server?")) return;
    try { await api(`/api/jobs/${current.id}?purge=1`, { method: "DELETE" }); } catch (e) { return formError(e.message); }
    history.pushState({}, "", "/"); route(); refreshResults();
  });
}
