// The form: the photo and the paintings (uploads or samples), the settings, and Start.
import { $, api, formError, state } from "./common.js";
import { watch } from "./job.js";

const picked = { content: null, styles: [] };  // each: {file} or {sample}, with a name and a thumbnail URL

function chip(item, onRemove) {
  const el = document.createElement("div");
  el.className = "chip";
  const img = document.createElement("img");
  img.src = item.thumb; img.alt = "";
  img.addEventListener("error", () => { img.style.visibility = "hidden"; });  // not a picture the browser reads
  const name = document.createElement("span");
  name.textContent = item.name; name.title = item.name;
  const remove = document.createElement("button");
  remove.type = "button"; remove.textContent = "×"; remove.title = `Remove ${item.name}`;
  remove.setAttribute("aria-label", `Remove ${item.name}`);
  remove.addEventListener("click", () => { if (item.file) URL.revokeObjectURL(item.thumb); onRemove(); });
  el.append(img, name, remove);
  return el;
}

function drawPicked() {
  const content = $("content-picked");
  content.replaceChildren(...(picked.content ? [chip(picked.content, () => { picked.content = null; drawPicked(); })] : []));
  $("style-picked").replaceChildren(...picked.styles.map((item, i) =>
    chip(item, () => { picked.styles.splice(i, 1); drawPicked(); })));
  for (const button of document.querySelectorAll(".sample")) {
    const list = button.dataset.role === "content" ? [picked.content] : picked.styles;
    button.setAttribute("aria-pressed", String(list.some((p) => p && p.sample === button.dataset.name)));
  }
}

function fromFile(file) {
  return { file, name: file.name, thumb: URL.createObjectURL(file) };
}

function acceptFiles(files, role) {
  const images = [...files].filter((f) => f.type.startsWith("image/") || /\.(jpe?g|png|tiff?|webp|bmp|gif)$/i.test(f.name));
  if (images.length < files.length) formError("Only image files can be used.");
  else formError("");
  if (!images.length) return;
  if (role === "content") {
    if (picked.content && picked.content.file) URL.revokeObjectURL(picked.content.thumb);
    picked.content = fromFile(images[0]);
  }
  else picked.styles.push(...images.map(fromFile));
  drawPicked();
}

function wireDrop(dropId, inputId, role) {
  const drop = $(dropId), input = $(inputId);
  input.addEventListener("change", () => { acceptFiles(input.files, role); input.value = ""; });
  for (const kind of ["dragenter", "dragover"]) drop.addEventListener(kind, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const kind of ["dragleave", "drop"]) drop.addEventListener(kind, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); acceptFiles(e.dataTransfer.files, role); });
}

export function sampleButton(sample, role) {
  const button = document.createElement("button");
  button.type = "button"; button.className = "sample";
  button.dataset.name = sample.name; button.dataset.role = role;
  button.title = sample.title;
  const img = document.createElement("img");
  img.src = `/api/samples/${sample.name}`; img.alt = sample.title;
  button.append(img);
  button.addEventListener("click", () => {
    const item = { sample: sample.name, name: sample.title, thumb: img.src };
    if (role === "content") picked.content = picked.content && picked.content.sample === sample.name ? null : item;
    else {
      const at = picked.styles.findIndex((p) => p.sample === sample.name);
      if (at >= 0) picked.styles.splice(at, 1); else picked.styles.push(item);
    }
    drawPicked();
  });
  return button;
}

// --- the settings ----------------------------------------------------------------------------------
function strength() { return Math.pow(10, Number($("strength").value)); }

function applyPreset() {
  const preset = state.options.presets[$("preset").value];
  $("size").value = preset.size;
  $("iterations").value = preset.iterations;
  $("seed").value = preset.seed;
  $("preserve_color").value = preset.preserve_color;
}

const COLOUR_LABELS = {
  none: "the paintings' colours",
  luminance: "the photo's colours (paint luminance only)",
  histogram: "the photo's palette (recolour the paintings)",
};

export function fillForm() {
  const [low, high] = state.options.bounds.size;
  $("preserve_color").replaceChildren(...state.options.preserve_color.map((value) =>
    Object.assign(document.createElement("option"), { value, textContent: COLOUR_LABELS[value] || value })));
  Object.assign($("size"), { min: low, max: high });
  $("sizes").replaceChildren(...[256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096]
    .filter((s) => s >= low && s <= high).map((s) => Object.assign(document.createElement("option"), { value: s })));
  Object.assign($("iterations"), { min: state.options.bounds.iterations[0], max: state.options.bounds.iterations[1] });
  $("preset").replaceChildren(...Object.keys(state.options.presets).map((name) =>
    Object.assign(document.createElement("option"), { value: name, textContent: name })));
  applyPreset();
}

async function start(event) {
  event.preventDefault();
  formError("");
  if (!picked.content) return formError("Choose a photo first.");
  if (!picked.styles.length) return formError("Choose at least one painting.");
  const checks = [["size", state.options.bounds.size], ["iterations", state.options.bounds.iterations]];
  for (const [id, [low, high]] of checks) {
    const value = Number($(id).value);
    if (!Number.isInteger(value) || value < low || value > high) return formError(`${id === "size" ? "Size" : "Steps"} must be a whole number from ${low} to ${high}.`);
  }
  const bytes = [picked.content, ...picked.styles].reduce((sum, p) => sum + (p.file ? p.file.size : 0), 0);
  if (bytes > state.options.limits.max_upload_bytes) {
    return formError(`The images add up to ${(bytes / 2 ** 20).toFixed(1)} MB; this server takes at most ${(state.options.limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB per job.`);
  }
  const form = new FormData();
  if (picked.content.file) form.append("content", picked.content.file); else form.append("content_sample", picked.content.sample);
  for (const p of picked.styles) if (p.file) form.append("styles", p.file); else form.append("style_samples", p.sample);
  for (const id of ["size", "iterations", "seed", "preserve_color", "preset"]) form.append(id, $(id).value);
  form.append("style_strength", strength().toPrecision(4));
  $("start").disabled = true;
  try {
    const job = await api("/api/jobs", { method: "POST", body: form });
    history.pushState({}, "", `/jobs/${job.id}`);
    watch(job.id);
    const frame = $("frame").getBoundingClientRect();
    if (frame.top > window.innerHeight || frame.bottom < 0) $("frame").scrollIntoView({ behavior: "smooth" });  // one column
  } catch (e) {
    formError(e.message);
  } finally {
    $("start").disabled = false;
  }
}

export function wireForm() {
  wireDrop("content-drop", "content-file", "content");
  wireDrop("style-drop", "style-files", "style");
  $("form").addEventListener("submit", start);
  $("strength").addEventListener("input", () => { $("strength-value").textContent = `×${strength().toPrecision(2)}`; });
  $("preset").addEventListener("change", applyPreset);
  $("reseed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 1e9); });
}
