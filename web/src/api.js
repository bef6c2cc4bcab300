// The one way the page talks HTTP to the API: the token as a bearer header, every refusal turned
// into an ApiError carrying the server's own message ({"detail": ...}).
import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

const listeners = new Set();
/** Called when the API refuses the token (401): the app goes back to sign-in. */
export function onUnauthorized(callback) {
  listeners.add(callback);
}

/** fetch with the token; returns the Response when it is ok, throws ApiError otherwise. */
export async function request(method, path, { json, body, headers = {} } = {}) {
  const all = { ...headers, Authorization: `Bearer ${session.token}` };
  if (json !== undefined) {
    all["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, headers: all, body });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${error.message})`);
  }
  if (response.ok) return response;
  let detail = `${response.status} ${response.statusText}`;
  try {
    detail = (await response.json()).detail || detail;
  } catch {
    /* not JSON: keep the status line */
  }
  if (response.status === 401) for (const callback of listeners) callback(detail);
  throw new ApiError(response.status, detail);
}

export async function getJson(path) {
  return (await request("GET", path)).json();
}

export async function sendJson(method, path, json) {
  return (await request(method, path, { json })).json();
}

/** Every item of a paged listing, following next_cursor to the end. */
export async function listAll(path, params = {}) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams(params);
    if (cursor) query.set("cursor", cursor);
    const page = await getJson(`${path}?${query}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** A workspace path as a URL path, each segment percent-encoded (a?b.py is a name). */
export function filePath(path) {
  return `/api/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}
