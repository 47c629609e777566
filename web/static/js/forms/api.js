// The forms JSON API (docs/forms.md §3), for the staff panel and the
// resident's review. A refusal throws an ApiError with the envelope's code,
// message and per-field problems.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || String(status);
    this.fields = body?.error?.fields || [];
  }
}

async function call(url, { method = "GET", json, body, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
    cache: "no-store",
  };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(url, init);
  const type = response.headers.get("Content-Type") || "";
  const out = type.includes("application/json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, out);
  return out;
}

// -- staff (logged-in session) ------------------------------------------------------------

const STAFF = "/api/v1/staff/forms";

export const staffForms = {
  templates: (serviceId) => call(`${STAFF}/templates?service_id=${encodeURIComponent(serviceId)}`),
  // `of` is {booking_code} or {ticket_id}: the forms of this call, oldest first.
  list: (of) => call(`${STAFF}?${new URLSearchParams(of)}`),
  start: (template, of) => call(STAFF, { method: "POST", json: { template, ...of } }),
  get: (id) => call(`${STAFF}/${id}`),
  save: (id, version, values) => call(`${STAFF}/${id}`, { method: "PUT", json: { version, values } }),
  push: (id, version) => call(`${STAFF}/${id}/push`, { method: "POST", json: { version } }),
  pdfUrl: (id) => `${STAFF}/${id}/pdf`,
};

// -- the resident (their own join token, X-Join-Token) -------------------------------------

export function residentForms(token) {
  const headers = { "X-Join-Token": token };
  const base = (id) => `/api/v1/call/forms/${encodeURIComponent(id)}`;
  return {
    // The pushed link: a form's view (JSON), or null for a plain document.
    async opened(url) {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers });
      const type = response.headers.get("Content-Type") || "";
      if (!type.includes("application/json")) return null;
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, body);
      return body?.kind === "form-view" ? body : null;
    },
    get: (id) => call(base(id), { headers }),
    confirm: (id, page, viewHash) =>
      call(`${base(id)}/pages/${page}/confirm`, { method: "POST", json: { view_hash: viewHash }, headers }),
    sign: (id, viewHash, png) =>
      call(`${base(id)}/signature?view_hash=${encodeURIComponent(viewHash)}`, {
        method: "POST",
        body: png,
        headers: { ...headers, "Content-Type": "image/png" },
      }),
    decline: (id, viewHash) =>
      call(`${base(id)}/decline`, { method: "POST", json: { view_hash: viewHash }, headers }),
  };
}
