// Shared by the page's modules: element lookup, the API, and the two places errors appear.
export const $ = (id) => document.getElementById(id);
export const state = { options: null };  // GET /api/options: each preset's defaults and this server's limits

export async function api(path, init) {
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch (e) { /* not JSON */ }
  if (response.status === 401) showBanner(body && body.error);
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

export function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text || "";
  banner.hidden = !text;
}

export function formError(text) {
  $("form-error").textContent = text || "";
  $("form-error").hidden = !text;
}
