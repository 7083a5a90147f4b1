// Strings live in i18n/<lang>.json; `t(key, values)` fills {placeholders}. Money and dates are formatted
// with Intl in the page's language from integer minor units (never floating-point arithmetic).

export const LANGUAGES = ["en", "es"];
let strings = {};
let fallback = {};
let current = "en";

async function load(lang) {
  const response = await fetch(`i18n/${lang}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`strings for ${lang}: ${response.status}`);
  return response.json();
}

export function pickLanguage(...candidates) {
  for (const candidate of candidates.flat()) {
    if (!candidate) continue;
    const short = String(candidate).toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(short)) return short;
  }
  return "en";
}

export async function setLanguage(lang) {
  const chosen = pickLanguage(lang);
  if (!Object.keys(fallback).length) fallback = await load("en");
  strings = chosen === "en" ? fallback : await load(chosen);
  current = chosen;
  document.documentElement.lang = chosen;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  return chosen;
}

export function language() {
  return current;
}

export function t(key, values = {}) {
  const template = strings[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

export function exponent(currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
}

function decimalString(minor, digits) {
  const negative = minor < 0;
  const text = String(Math.abs(Math.trunc(minor))).padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const frac = digits ? `.${text.slice(-digits)}` : "";
  return `${negative ? "-" : ""}${whole}${frac}`;
}

export function money(value) {
  if (!value || typeof value.minor !== "number" || !value.currency) return value?.display ?? "";
  try {
    const digits = exponent(value.currency);
    return new Intl.NumberFormat(current, { style: "currency", currency: value.currency }).format(
      decimalString(value.minor, digits),
    );
  } catch {
    return value.display ?? "";
  }
}

export function moneyOf(minor, currency) {
  return money({ minor, currency });
}

// "25", "25.5", "25.50", "1,234.50" or "25,50" -> minor units; null when it is not an amount.
export function parseAmount(text, currency) {
  const digits = exponent(currency);
  let cleaned = String(text).trim().replace(/[\s$€£]/g, "");
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(cleaned)) cleaned = cleaned.replace(/,/g, "");
  else if (/^\d{1,3}(\.\d{3})+(,\d+)?$/.test(cleaned)) cleaned = cleaned.replace(/\./g, "").replace(",", ".");
  else cleaned = cleaned.replace(",", ".");
  const match = new RegExp(`^(\\d{1,9})(?:\\.(\\d{1,${Math.max(digits, 1)}}))?$`).exec(cleaned);
  if (!match || (digits === 0 && match[2])) return null;
  const frac = (match[2] || "").padEnd(digits, "0");
  return Number(match[1]) * 10 ** digits + Number(frac || "0");
}

export function amountInput(minor, currency) {
  return decimalString(minor, exponent(currency));
}

export function date(iso) {
  if (!iso) return "";
  const day = String(iso).slice(0, 10);
  const parsed = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime())) return String(iso);
  return new Intl.DateTimeFormat(current, { dateStyle: "long", timeZone: "UTC" }).format(parsed);
}
