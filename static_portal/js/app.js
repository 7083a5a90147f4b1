// The pay page: link -> identity check -> breakdown -> pay / plan / promise / dispute / hardship /
// preferences -> confirmation. State that must survive the trip to Stripe Checkout lives in
// sessionStorage (this tab only); the link token is taken out of the address bar once read.

import { ApiError, createApi } from "./api.js";
import * as i18n from "./i18n.js";

const { t } = i18n;
const STORE = "cleardue.portal";
const $ = (id) => document.getElementById(id);

const state = loadState();
let api;
let account = null;
let rerender = () => {};

function loadState() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE)) || {};
  } catch {
    return {};
  }
}

function saveState() {
  sessionStorage.setItem(STORE, JSON.stringify(state));
}

// ---- page plumbing -------------------------------------------------------------------------------

function show(step, render) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== `step-${step}`;
  announce("");
  rerender = render || (() => {});
  rerender();
  const heading = $(`step-${step}`).querySelector("h1");
  document.title = `${heading.textContent} · ${t("brand")}`;
  heading.focus();
}

function showError(message, field) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  for (const input of document.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-errormessage", "error");
    field.focus();
  }
}

function announce(message) {
  $("status").textContent = message;
}

function clearMessages() {
  showError("");
  announce("");
}

async function busy(form, action) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  announce(t("saving"));
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}

function errorText(error) {
  if (!(error instanceof ApiError)) return t("generic_error");
  if (error.code === "network_error") return t("network_error");
  if (error.status >= 500) return t("generic_error");
  return error.message || t("generic_error");
}

function handleApiError(error, field) {
  if (error instanceof ApiError && error.status === 401 && state.session) {
    forgetSession();
    return state.token ? startVerify(t("session_expired")) : show("no-link");
  }
  showError(errorText(error), field);
}

function forgetSession() {
  delete state.session;
  delete state.expiresAt;
  saveState();
}

// retry_after is in seconds: said as minutes, so the browser's clock never matters.
function retryMinutes(retryAfter) {
  return Math.max(1, Math.ceil((Number(retryAfter) || 1800) / 60));
}

function linkProblem(error) {
  const messages = {
    link_expired: () => t("link_expired"),
    link_invalid: () => t("link_invalid"),
    link_locked: () => t("link_locked", { minutes: retryMinutes(error.body.retry_after) }),
  };
  const message = messages[error.code] || (() => errorText(error));
  show("link-problem", () => {
    $("link-problem-text").textContent = message();
  });
}

function choice(label, onClick, kind = "secondary") {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = kind;
  button.textContent = label;
  button.addEventListener("click", onClick);
  item.append(button);
  return item;
}

function dateField(input, hint, maxDate) {
  if (maxDate) input.max = String(maxDate).slice(0, 10);
  hint.textContent = maxDate ? t("date_hint_until", { date: i18n.date(maxDate) }) : "";
}

// ---- verify --------------------------------------------------------------------------------------

async function openLink() {
  try {
    const link = await api.link(state.token);
    state.identityCheck = link.identity_check;
    if (!state.chosenLanguage && link.language) await i18n.setLanguage(link.language);
    saveState();
    startVerify();
  } catch (error) {
    linkProblem(error);
  }
}

function startVerify(message) {
  show("verify", () => {
    for (const field of document.querySelectorAll("#verify-form [data-check]")) {
      field.hidden = field.dataset.check !== state.identityCheck;
    }
  });
  if (message) showError(message);
}

async function verify(event) {
  event.preventDefault();
  clearMessages();
  const form = event.currentTarget;
  const inputs = [...form.querySelectorAll(".field:not([hidden]) input")];
  const empty = inputs.find((input) => !input.value.trim());
  if (empty) return showError(t("verify_missing"), empty);
  const answers = Object.fromEntries(inputs.map((input) => [input.name, input.value.trim()]));
  await busy(form, async () => {
    try {
      const session = await api.session(state.token, answers);
      state.session = session.session;
      state.expiresAt = session.expires_at;
      if (!state.chosenLanguage && session.language) await i18n.setLanguage(session.language);
      saveState();
      for (const input of inputs) input.value = "";
      await showAccount();
    } catch (error) {
      if (error instanceof ApiError && error.code === "verification_failed") {
        const left = error.body.attempts_left;
        const more = typeof left === "number" ? ` ${left === 1 ? t("attempts_left_one") : t("attempts_left", { n: left })}` : "";
        showError(`${t("verification_failed")}${more}`, inputs[0]);
      } else if (error instanceof ApiError && ["link_locked", "link_expired", "link_invalid"].includes(error.code)) {
        linkProblem(error);
      } else {
        showError(errorText(error));
      }
    }
  });
}

// ---- account -------------------------------------------------------------------------------------

async function refreshAccount() {
  account = await api.account();
  return account;
}

async function showAccount() {
  try {
    await refreshAccount();
  } catch (error) {
    return handleApiError(error);
  }
  show("account", renderAccount);
}

function row(list, label, value, className) {
  const term = document.createElement("dt");
  const detail = document.createElement("dd");
  term.textContent = label;
  detail.textContent = value;
  if (className) {
    term.className = className;
    detail.className = className;
  }
  list.append(term, detail);
}

function nonZero(value) {
  return value && typeof value.minor === "number" && value.minor !== 0;
}

function renderAccount() {
  const a = account;
  const balance = a.balance || {};
  const itemization = a.itemization || {};
  const reference = a.reference ?? "";
  const intro = a.status === "paid" ? "account_intro_paid" : "account_intro";
  $("account-intro").textContent = t(intro, { creditor: a.creditor ?? "", reference });

  const list = $("breakdown");
  list.replaceChildren();
  row(list, t("principal"), i18n.money(balance.principal));
  row(list, t("interest"), i18n.money(balance.interest));
  row(list, t("fees"), i18n.money(balance.fees));
  const since = i18n.date(itemization.date);
  if (itemization.payments_since) {
    const label = since ? t("payments_since", { date: since }) : t("payments_made");
    const paid = itemization.payments_since;
    row(list, label, nonZero(paid) ? `−${i18n.money(paid)}` : i18n.money(paid));
  }
  if (nonZero(itemization.credits_since)) {
    row(list, t("credits_since", { date: since }), `−${i18n.money(itemization.credits_since)}`);
  }
  row(list, t("total"), i18n.money(balance.total), "total");
  if (a.due_now && balance.total && a.due_now.minor !== balance.total.minor) row(list, t("due_now"), i18n.money(a.due_now));
  if (a.due_date) row(list, t("due_date"), i18n.date(a.due_date));

  const current = $("account-current");
  const notes = [];
  if (a.status === "paid") notes.push(t("status_paid"));
  if (a.plan) notes.push(t("current_plan", planFacts(a.plan)));
  if (a.promise) notes.push(t("current_promise", { amount: i18n.money(a.promise.amount), date: i18n.date(a.promise.date) }));
  if (a.dispute) {
    // open or being verified: paused; verified: the verification was sent; upheld: the balance reflects it
    const key = { verified: "current_dispute_verified", upheld: "current_dispute_upheld" }[a.dispute.status] || "current_dispute";
    notes.push(t(key, { date: i18n.date(a.dispute.opened_at) }));
  }
  current.textContent = notes.join(" ");
  current.hidden = !notes.length;

  const options = a.options || {};
  const choices = $("choices");
  choices.replaceChildren();
  if (options.pay_full) choices.append(choice(t("choice_pay_full", { amount: i18n.money(options.pay_full) }), payFull, "primary"));
  if (options.pay_partial) choices.append(choice(t("choice_pay_partial"), () => startPay("part")));
  if (options.plan) choices.append(choice(t("choice_plan"), startPlan));
  if (options.promise) choices.append(choice(t("choice_promise"), startPromise));
  if (a.status !== "paid") {
    choices.append(choice(t("choice_dispute"), startDispute));
    choices.append(choice(t("choice_hardship"), startHardship));
  }
  choices.append(choice(t("choice_preferences"), startPreferences));

  const payments = a.payments || [];
  $("history").hidden = !payments.length;
  $("history-list").replaceChildren(
    ...payments.map((payment) => {
      const item = document.createElement("li");
      item.textContent = `${i18n.date(payment.at)}: ${i18n.money(payment.amount)}`;
      if (payment.receipt_url) {
        const link = document.createElement("a");
        link.href = payment.receipt_url;
        link.rel = "noopener noreferrer";
        link.textContent = ` ${t("receipt")}`;
        item.append(" ", link);
      }
      return item;
    }),
  );
}

function planFacts(plan) {
  const installments = Array.isArray(plan.installments) ? plan.installments : [];
  const next = installments.find((installment) => installment.status !== "paid") || installments[0] || {};
  return { n: installments.length, amount: i18n.money(next.amount), date: i18n.date(next.due) };
}

function currency() {
  return account?.balance?.total?.currency || "USD";
}

// ---- pay -----------------------------------------------------------------------------------------

async function goToCheckout(kind, request) {
  const result = await request();
  state.pendingCheckout = kind;
  saveState();
  window.location.assign(result.checkout_url);
}

function payFull(event) {
  return payNow(event);
}

async function payNow(event, amountMinor) {
  clearMessages();
  const button = event.currentTarget;
  button.disabled = true;
  announce(t("saving"));
  try {
    await goToCheckout("payment", () => api.pay(amountMinor));
  } catch (error) {
    handleApiError(error);
  } finally {
    button.disabled = false;
  }
}

function startPay(kind = "full") {
  clearMessages();
  const options = account.options || {};
  show("pay", () => {
    const total = account.balance.total;
    $("pay-full-label").textContent = t("pay_full_label", { amount: i18n.money(total) });
    $("pay-part-row").hidden = !options.pay_partial;
    const min = options.pay_partial?.min;
    $("pay-amount-hint").textContent = min ? t("amount_hint_min", { min: i18n.money(min), max: i18n.money(total) }) : "";
  });
  $(kind === "part" ? "pay-part" : "pay-full").checked = true;
  syncPayKind();
  if (kind === "part") $("pay-amount").focus();
}

function syncPayKind() {
  $("pay-amount-field").hidden = !$("pay-part").checked;
}

async function submitPay(event) {
  event.preventDefault();
  clearMessages();
  const form = event.currentTarget;
  let amount;
  if ($("pay-part").checked) {
    const input = $("pay-amount");
    amount = i18n.parseAmount(input.value, currency());
    if (amount === null) return showError(t("amount_invalid"), input);
    const min = account.options.pay_partial?.min?.minor ?? 1;
    const max = account.balance.total.minor;
    if (amount < min || amount > max) {
      return showError(t("amount_range", { min: i18n.moneyOf(min, currency()), max: i18n.moneyOf(max, currency()) }), input);
    }
  }
  await busy(form, async () => {
    try {
      await goToCheckout("payment", () => api.pay(amount));
    } catch (error) {
      handleApiError(error, $("pay-part").checked ? $("pay-amount") : undefined);
    }
  });
}

// ---- plan ----------------------------------------------------------------------------------------

function startPlan() {
  clearMessages();
  const bounds = account.options.plan;
  const total = account.balance.total.minor;
  const minInstallment = bounds.min_installment?.minor ?? 1;
  const select = $("plan-count");
  select.replaceChildren();
  for (let n = 2; n <= (bounds.max_installments || 2); n += 1) {
    if (Math.floor(total / n) < minInstallment) break;
    const option = document.createElement("option");
    option.value = String(n);
    option.textContent = String(n);
    select.append(option);
  }
  show("plan", () => {
    dateField($("plan-start"), $("plan-start-hint"), bounds.max_start_date);
    updatePlanSummary();
  });
}

function updatePlanSummary() {
  const n = Number($("plan-count").value);
  if (!n || !account) return;
  const each = Math.ceil(account.balance.total.minor / n);
  $("plan-summary").textContent = t("plan_summary", { n, amount: i18n.moneyOf(each, currency()) });
}

// A date field holds a date no later than `max` (the API's bound); otherwise the page says which dates work.
function dateWithin(input, max) {
  if (input.value && !(max && input.value > String(max).slice(0, 10))) return true;
  showError(t("date_invalid", { date: i18n.date(max) }), input);
  return false;
}

async function submitPlan(event) {
  event.preventDefault();
  clearMessages();
  const start = $("plan-start");
  if (!dateWithin(start, account.options.plan.max_start_date)) return;
  await busy(event.currentTarget, async () => {
    try {
      await goToCheckout("plan", () => api.plan(Number($("plan-count").value), start.value));
    } catch (error) {
      handleApiError(error, start);
    }
  });
}

// ---- promise -------------------------------------------------------------------------------------

function startPromise() {
  clearMessages();
  $("promise-amount").value = i18n.amountInput(account.balance.total.minor, currency());
  show("promise", () => dateField($("promise-date"), $("promise-date-hint"), account.options.promise.max_date));
}

async function submitPromise(event) {
  event.preventDefault();
  clearMessages();
  const input = $("promise-amount");
  const amount = i18n.parseAmount(input.value, currency());
  if (amount === null || amount <= 0) return showError(t("amount_invalid"), input);
  const when = $("promise-date");
  if (!dateWithin(when, account.options.promise.max_date)) return;
  await busy(event.currentTarget, async () => {
    try {
      const result = await api.promise(amount, when.value);
      const promise = result.promise || {};
      const facts = { amount: i18n.moneyOf(amount, currency()), date: i18n.date(promise.date ?? when.value) };
      done(t("done_promise_title"), t("done_promise_text", facts));
    } catch (error) {
      handleApiError(error, input);
    }
  });
}

// ---- dispute, hardship, preferences --------------------------------------------------------------

function startDispute() {
  clearMessages();
  show("dispute");
}

async function submitDispute(event) {
  event.preventDefault();
  clearMessages();
  const form = event.currentTarget;
  const reason = form.querySelector("input[name=reason]:checked");
  if (!reason) return showError(t("dispute_missing"), form.querySelector("input[name=reason]"));
  await busy(form, async () => {
    try {
      await api.dispute(reason.value, $("dispute-details").value.trim());
      done(t("done_dispute_title"), t("done_dispute_text"));
    } catch (error) {
      handleApiError(error);
    }
  });
}

function startHardship() {
  clearMessages();
  show("hardship");
}

async function submitHardship(event) {
  event.preventDefault();
  clearMessages();
  const input = $("hardship-amount");
  const amount = i18n.parseAmount(input.value, currency());
  if (amount === null) return showError(t("amount_invalid"), input);
  await busy(event.currentTarget, async () => {
    try {
      const result = await api.hardship(amount, $("hardship-note").value.trim() || undefined);
      const offer = result.offer || {};
      if (result.outcome === "plan" && offer.plan) {
        const facts = { amount: i18n.money(offer.plan.installment), n: offer.plan.installments };
        const next = account.options?.plan ? [choice(t("choice_plan"), startPlan, "primary")] : [];
        done(t("done_hardship_plan_title"), t("done_hardship_plan_text", facts), next);
      } else if (result.outcome === "settlement" && offer.settlement) {
        const { amount, expires_at: expires } = offer.settlement;
        const facts = { amount: i18n.money(amount), date: i18n.date(expires) };
        done(t("done_hardship_settlement_title"), t("done_hardship_settlement_text", facts), [
          choice(t("choice_pay_full", { amount: i18n.money(amount) }), (click) => payNow(click, amount.minor), "primary"),
        ]);
      } else {
        done(t("done_hardship_referral_title"), t("done_hardship_referral_text"));
      }
    } catch (error) {
      handleApiError(error, input);
    }
  });
}

function startPreferences() {
  clearMessages();
  const prefs = account.preferences || {};
  $("pref-channel").value = prefs.preferred_channel || "email";
  $("pref-language").value = i18n.pickLanguage(prefs.language, i18n.language());
  $("pref-time").value = prefs.preferred_time || "";
  const optOut = prefs.opt_out || [];
  $("opt-email").checked = optOut.includes("email");
  $("opt-sms").checked = optOut.includes("sms");
  show("preferences");
}

async function submitPreferences(event) {
  event.preventDefault();
  clearMessages();
  const body = {
    preferred_channel: $("pref-channel").value,
    language: $("pref-language").value,
    opt_out: [...document.querySelectorAll("#preferences-form input[name=opt_out]:checked")].map((box) => box.value),
  };
  if ($("pref-time").value) body.preferred_time = $("pref-time").value;
  await busy(event.currentTarget, async () => {
    try {
      await api.preferences(body);
      state.chosenLanguage = body.language;
      saveState();
      await switchLanguage(body.language);
      done(t("done_preferences_title"), t("done_preferences_text"));
    } catch (error) {
      handleApiError(error);
    }
  });
}

// ---- confirmation and the return from Stripe Checkout --------------------------------------------

function done(title, text, extra = []) {
  show("done", () => {
    $("h-done").textContent = title;
    $("done-text").textContent = text;
    $("done-choices").replaceChildren(...extra, choice(t("choice_back_account"), showAccount));
  });
}

async function checkoutReturned(outcome) {
  const kind = state.pendingCheckout || "payment";
  delete state.pendingCheckout;
  saveState();
  // The outcome is shown once; a reload shows the account.
  history.replaceState(null, "", window.location.pathname);
  if (outcome === "success") {
    const title = kind === "plan" ? "done_plan_title" : "done_payment_title";
    const text = kind === "plan" ? "done_plan_text" : "done_payment_text";
    return show("done", () => {
      $("h-done").textContent = t(title);
      $("done-text").textContent = t(text);
      $("done-choices").replaceChildren(choice(t("choice_back_account"), showAccount));
    });
  }
  try {
    await refreshAccount();
  } catch (error) {
    return handleApiError(error);
  }
  show("done", () => {
    $("h-done").textContent = t("done_cancel_title");
    $("done-text").textContent = t("done_cancel_text");
    const options = account.options || {};
    const next = [];
    if (options.pay_full || options.pay_partial) next.push(choice(t("choice_try_again"), () => startPay("full"), "primary"));
    if (options.plan) next.push(choice(t("choice_plan"), startPlan));
    if (options.promise) next.push(choice(t("choice_promise"), startPromise));
    if (account.status !== "paid") next.push(choice(t("choice_hardship"), startHardship));
    next.push(choice(t("choice_back_account"), showAccount));
    $("done-choices").replaceChildren(...next);
  });
}

// Back from Checkout in a tab that does not know the link (another browser, storage cleared): say what
// happened without account details, which need the identity check again.
function checkoutReturnedElsewhere(outcome) {
  history.replaceState(null, "", window.location.pathname);
  const success = outcome === "success";
  show("done", () => {
    $("h-done").textContent = t(success ? "done_payment_title" : "done_cancel_title");
    $("done-text").textContent = `${t(success ? "done_payment_text" : "done_cancel_text")} ${t("open_link_again")}`;
    $("done-choices").replaceChildren();
  });
}

// ---- start ---------------------------------------------------------------------------------------

async function switchLanguage(lang) {
  const chosen = await i18n.setLanguage(lang);
  $("language-switch").value = chosen;
  rerender();
  const visible = document.querySelector("main > section:not([hidden]) h1");
  if (visible) document.title = `${visible.textContent} · ${t("brand")}`;
}

async function config() {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (response.ok) return await response.json();
  } catch {
    // a site without config.json talks to the API on the same origin under /api
  }
  return { api: "/api" };
}

function wire() {
  $("verify-form").addEventListener("submit", verify);
  $("pay-form").addEventListener("submit", submitPay);
  $("plan-form").addEventListener("submit", submitPlan);
  $("promise-form").addEventListener("submit", submitPromise);
  $("dispute-form").addEventListener("submit", submitDispute);
  $("hardship-form").addEventListener("submit", submitHardship);
  $("preferences-form").addEventListener("submit", submitPreferences);
  $("plan-count").addEventListener("change", updatePlanSummary);
  for (const radio of document.querySelectorAll("input[name=pay_kind]")) radio.addEventListener("change", syncPayKind);
  for (const back of document.querySelectorAll("button.back")) {
    back.addEventListener("click", () => {
      clearMessages();
      show("account", renderAccount);
    });
  }
  // A link opened in a tab that already shows the page changes only the fragment: start over with it.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(window.location.hash.slice(1)).get("t")) window.location.reload();
  });
  $("language-switch").addEventListener("change", async (event) => {
    state.chosenLanguage = event.target.value;
    saveState();
    await switchLanguage(event.target.value);
  });
}

async function main() {
  wire();
  const settings = await config();
  api = createApi(settings.api || "/api", () => state.session);
  await switchLanguage(state.chosenLanguage || i18n.pickLanguage(navigator.languages, navigator.language));

  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("t");
  if (token && token !== state.token) {
    // A new link: whatever this tab knew belongs to another one.
    for (const key of Object.keys(state)) if (key !== "chosenLanguage") delete state[key];
    state.token = token;
    saveState();
  }
  if (token) history.replaceState(null, "", window.location.pathname + window.location.search);

  const outcome = new URLSearchParams(window.location.search).get("checkout");
  // The session's expiry is the API's to judge (a 401 brings the identity check back): the browser's
  // clock may disagree with the server's.
  if (outcome && state.session) return checkoutReturned(outcome);
  if (outcome && !state.token) return checkoutReturnedElsewhere(outcome);
  if (state.session) return showAccount();
  if (state.token) {
    if (outcome) history.replaceState(null, "", window.location.pathname);
    return openLink();
  }
  show("no-link");
}

main().catch(() => showError(t("generic_error")));
