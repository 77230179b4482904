// impasto's page: pick a photo and paintings, start a job, watch its event stream, keep the result.
// No framework and no build step; everything it loads comes from this server.
"use strict";

const $ = (id) => document.getElementById(id);
const picked = { content: null, styles: [] };  // each: {file} or {sample}, with a name and a thumbnail URL
let options = null;   // GET /api/options
let current = null;   // the job shown: {id, source, shown (preview version), state}

// --- talking to the server ---------------------------------------------------------------------
async function api(path, init) {
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch (e) { /* not JSON */ }
  if (response.status === 401) showBanner(body && body.error);
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text || "";
  banner.hidden = !text;
}

function formError(text) {
  $("form-error").textContent = text || "";
  $("form-error").hidden = !text;
}

// --- choosing inputs ---------------------------------------------------------------------------
function chip(item, onRemove) {
  const el = document.createElement("div");
  el.className = "chip";
  const img = document.createElement("img");
  img.src = item.thumb; img.alt = "";
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

function sampleButton(sample, role) {
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

// --- the form ----------------------------------------------------------------------------------
function strength() { return Math.pow(10, Number($("strength").value)); }

function applyPreset() {
  const preset = options.presets[$("preset").value];
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

function fillForm() {
  const [low, high] = options.bounds.size;
  $("preserve_color").replaceChildren(...options.preserve_color.map((value) =>
    Object.assign(document.createElement("option"), { value, textContent: COLOUR_LABELS[value] || value })));
  Object.assign($("size"), { min: low, max: high });
  $("sizes").replaceChildren(...[256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096]
    .filter((s) => s >= low && s <= high).map((s) => Object.assign(document.createElement("option"), { value: s })));
  Object.assign($("iterations"), { min: options.bounds.iterations[0], max: options.bounds.iterations[1] });
  $("preset").replaceChildren(...Object.keys(options.presets).map((name) =>
    Object.assign(document.createElement("option"), { value: name, textContent: name })));
  applyPreset();
}

async function start(event) {
  event.preventDefault();
  formError("");
  if (!picked.content) return formError("Choose a photo first.");
  if (!picked.styles.length) return formError("Choose at least one painting.");
  const checks = [["size", options.bounds.size], ["iterations", options.bounds.iterations]];
  for (const [id, [low, high]] of checks) {
    const value = Number($(id).value);
    if (!Number.isInteger(value) || value < low || value > high) return formError(`${id === "size" ? "Size" : "Steps"} must be a whole number from ${low} to ${high}.`);
  }
  const bytes = [picked.content, ...picked.styles].reduce((sum, p) => sum + (p.file ? p.file.size : 0), 0);
  if (bytes > options.limits.max_upload_bytes) {
    return formError(`The images add up to ${(bytes / 2 ** 20).toFixed(1)} MB; this server takes at most ${(options.limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB per job.`);
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
  } catch (e) {
    formError(e.message);
  } finally {
    $("start").disabled = false;
  }
}

// --- one job, live -----------------------------------------------------------------------------
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
    (o.size ? ` · ${o.size} px` : "") + (o.preset && o.preset !== Object.keys(options.presets)[0] ? ` · ${o.preset}` : "");
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

function watch(id) {
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

async function refreshResults() {
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

function route() {
  const match = location.pathname.match(/^\/jobs\/([^/]+)$/);
  if (match) watch(match[1]); else showNothing("Choose a photo and a painting, then start.\nThe picture forms here as it paints.");
}

async function init() {
  const preview = $("preview");
  preview.addEventListener("load", () => {
    preview.hidden = false; $("empty").hidden = true;
    preview.dataset.loads = String(Number(preview.dataset.loads || 0) + 1);
  });
  wireDrop("content-drop", "content-file", "content");
  wireDrop("style-drop", "style-files", "style");
  $("form").addEventListener("submit", start);
  $("strength").addEventListener("input", () => { $("strength-value").textContent = `×${strength().toPrecision(2)}`; });
  $("preset").addEventListener("change", applyPreset);
  $("reseed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 1e9); });
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
  window.addEventListener("popstate", route);
  try {
    const [opts, samples] = await Promise.all([api("/api/options"), api("/api/samples")]);
    options = opts;
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
