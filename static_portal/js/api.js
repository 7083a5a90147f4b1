// The portal API client (docs/portal-api.md). Errors come back as ApiError with the API's stable code.

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
}

export function createApi(base, getSession) {
  const root = base.replace(/\/+$/, "");

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const session = getSession();
    if (session) headers.Authorization = `Bearer ${session}`;
    let response;
    try {
      response = await fetch(root + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, "network_error", "");
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (!response.ok) {
      throw new ApiError(response.status, data.code || `http_${response.status}`, data.message || "", data);
    }
    return data;
  }

  return {
    link: (token) => call("POST", "/link", { token }),
    session: (token, answers) => call("POST", "/session", { token, ...answers }),
    account: () => call("GET", "/account"),
    pay: (amountMinor) => call("POST", "/payments", amountMinor === undefined ? {} : { amount_minor: amountMinor }),
    plan: (installments, startDate) => call("POST", "/plans", { installments, start_date: startDate }),
    promise: (amountMinor, date) => call("POST", "/promises", { amount_minor: amountMinor, date }),
    dispute: (reason, details) => call("POST", "/disputes", { reason, details }),
    hardship: (monthlyMinor, note) => call("POST", "/hardship", { monthly_affordable_minor: monthlyMinor, note }),
    preferences: (prefs) => call("PUT", "/preferences", prefs),
  };
}
