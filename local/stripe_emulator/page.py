"""The hosted Checkout page: one accessible HTML form (labels, autocomplete, focus on the field in
error, the error in a role=alert region), in English or Spanish by the session's locale."""

from __future__ import annotations

from html import escape
from typing import Any

from functions.core.money import Money

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title_payment": "Pay {merchant}",
        "title_setup": "Save a card for your payment plan",
        "setup_note": "Your card is saved for the plan's installments. Nothing is charged now.",
        "email": "Email",
        "number": "Card number",
        "expiry": "Expiration (MM / YY)",
        "cvc": "Security code (CVC)",
        "name": "Name on card",
        "pay": "Pay {amount}",
        "save": "Save card",
        "back": "Go back",
        "test_mode": "Test mode: use a Stripe test card such as 4242 4242 4242 4242.",
        "incomplete_number": "Your card number is incomplete.",
        "incomplete_expiry": "Your card's expiration date is incomplete.",
        "past_expiry": "Your card's expiration year is in the past.",
        "invalid_month": "Your card's expiration date is invalid.",
        "incomplete_cvc": "Your card's security code is incomplete.",
        "try_again": "Try another card, or go back.",
        "expired": "This checkout session has expired.",
        "heading_error": "There is a problem",
    },
    "es": {
        "title_payment": "Pagar a {merchant}",
        "title_setup": "Guardar una tarjeta para su plan de pagos",
        "setup_note": "Su tarjeta se guarda para las cuotas del plan. Ahora no se cobra nada.",
        "email": "Correo electrónico",
        "number": "Número de tarjeta",
        "expiry": "Vencimiento (MM / AA)",
        "cvc": "Código de seguridad (CVC)",
        "name": "Nombre en la tarjeta",
        "pay": "Pagar {amount}",
        "save": "Guardar tarjeta",
        "back": "Volver",
        "test_mode": "Modo de prueba: use una tarjeta de prueba de Stripe como 4242 4242 4242 4242.",
        "incomplete_number": "El número de su tarjeta está incompleto.",
        "incomplete_expiry": "La fecha de vencimiento de su tarjeta está incompleta.",
        "past_expiry": "El año de vencimiento de su tarjeta ya pasó.",
        "invalid_month": "La fecha de vencimiento de su tarjeta no es válida.",
        "incomplete_cvc": "El código de seguridad de su tarjeta está incompleto.",
        "try_again": "Pruebe con otra tarjeta o vuelva atrás.",
        "expired": "Esta sesión de pago ha caducado.",
        "heading_error": "Hay un problema",
    },
}

# Stripe's decline messages in Spanish (English ones come from the API error).
DECLINES_ES: dict[str, str] = {
    "generic_decline": "Su tarjeta fue rechazada.",
    "insufficient_funds": "Su tarjeta no tiene fondos suficientes.",
    "expired_card": "Su tarjeta ha caducado.",
    "incorrect_number": "El número de su tarjeta es incorrecto.",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1a1a1a;background:#f6f8fa;line-height:1.5}
main{max-width:28rem;margin:0 auto;background:#fff;padding:1.5rem;border-radius:8px;border:1px solid #d0d7de}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;box-sizing:border-box;font-size:1rem;padding:.6rem;
 border:1px solid #57606a;border-radius:4px}
input:focus,button:focus,a:focus{outline:3px solid #0a58ca;outline-offset:2px}
input[aria-invalid=true]{border-color:#b3261e;border-width:2px}
button{margin-top:1.5rem;width:100%;font-size:1.1rem;padding:.8rem;background:#0a58ca;color:#fff;border:0;border-radius:4px}
.error{color:#b3261e;background:#fdecea;border:1px solid #b3261e;padding:.75rem;border-radius:4px;margin-top:1rem}
.note{color:#424a53;font-size:.9rem}
.amount{font-size:2rem;font-weight:700;margin:.25rem 0}
"""


def language(session: dict[str, Any], accept_language: str | None) -> str:
    locale = session.get("locale") or "auto"
    if locale == "auto":
        locale = (accept_language or "en").split(",")[0].strip()
    return "es" if locale.lower().startswith("es") else "en"


def render(
    session: dict[str, Any],
    extras: dict[str, Any],
    lang: str,
    *,
    error: str | None = None,
    error_field: str | None = None,
    values: dict[str, str] | None = None,
    merchant: str = "cleardue",
) -> str:
    t = TEXT[lang]
    values = values or {}
    title = t["title_payment"].format(merchant=merchant) if session["mode"] == "payment" else t["title_setup"]
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
    ]
    if session["mode"] == "payment":
        amount = Money(session["amount_total"], session["currency"].upper()).display()
        parts.append(f"<h1>{escape(t['title_payment'].format(merchant=merchant))}</h1>")
        parts.append(f'<p class="amount">{escape(amount)}</p>')
        for item in extras.get("line_items", []):
            parts.append(f"<p>{escape(str(item['description']))}</p>")
        submit = t["pay"].format(amount=amount)
    else:
        parts.append(f"<h1>{escape(t['title_setup'])}</h1><p>{escape(t['setup_note'])}</p>")
        submit = t["save"]
    if session["status"] == "expired":
        parts.append(f'<p role="alert" class="error">{escape(t["expired"])}</p>')
        if session.get("cancel_url"):
            parts.append(f'<p><a href="{escape(session["cancel_url"])}">{escape(t["back"])}</a></p>')
        parts.append("</main></body></html>")
        return "".join(parts)
    if error:
        parts.append(
            '<div id="form-error" class="error" role="alert" tabindex="-1">'
            f"<strong>{escape(t['heading_error'])}</strong>"
            f"<p>{escape(error)}</p><p>{escape(t['try_again'])}</p></div>"
        )
    parts.append(f'<form method="post" action="/c/pay/{escape(session["id"])}" novalidate>')

    def field(name: str, label: str, autocomplete: str, *, inputmode: str = "text", maxlength: int = 64) -> str:
        in_error = error is not None and error_field == name
        attrs = ' aria-invalid="true" aria-describedby="form-error" autofocus' if in_error else ""
        value = escape(values.get(name, ""))
        return (
            f'<label for="{name}">{escape(label)}</label>'
            f'<input id="{name}" name="{name}" autocomplete="{autocomplete}" inputmode="{inputmode}" '
            f'maxlength="{maxlength}" value="{value}"{attrs}>'
        )

    if session["mode"] == "payment":
        values.setdefault("email", session.get("customer_email") or "")
        parts.append(field("email", t["email"], "email", inputmode="email", maxlength=254))
    parts.append(field("cardnumber", t["number"], "cc-number", inputmode="numeric", maxlength=23))
    parts.append(field("exp", t["expiry"], "cc-exp", inputmode="numeric", maxlength=7))
    parts.append(field("cvc", t["cvc"], "cc-csc", inputmode="numeric", maxlength=4))
    parts.append(field("name", t["name"], "cc-name", maxlength=100))
    parts.append(f'<button type="submit">{escape(submit)}</button></form>')
    parts.append(f'<p class="note">{escape(t["test_mode"])}</p>')
    if session.get("cancel_url"):
        parts.append(f'<p><a href="{escape(session["cancel_url"])}">{escape(t["back"])}</a></p>')
    parts.append("</main></body></html>")
    return "".join(parts)
