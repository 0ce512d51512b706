"""Look-up by document number and holder name (``/lookup``): see :mod:`certsvc.web.lookup`."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from certsvc.web import i18n
from certsvc.web.lookup import NO_MATCH, LookupAnswer, LookupInputError, check_input, lookup
from certsvc.web.state import state
from certsvc.web.verifying import VerificationUnavailableError
from certsvc.web.views.pages import token_verdict

bp = Blueprint("lookup", __name__)


def run_lookup(number: str, name: str) -> LookupAnswer:
    """Check the input, then look up; counted as ``lookup`` (``no-match`` or the verdict).
    ``LookupInputError`` for a missing field, a wrong shape or a wrong check character."""
    web = state()
    web.enforce_lookup_limit()
    try:
        canonical = check_input(number, name)
    except LookupInputError as error:
        if error.key != "lookup.no_match":
            raise
        answer = NO_MATCH
    else:
        with web.db.session() as session:
            answer = lookup(session, canonical, name, lambda token: token_verdict(token, "lookup"))
    if not answer.matched:
        web.counter.add("lookup", "no-match")
    return answer


@bp.route("/lookup", methods=["GET", "POST"])
def lookup_page() -> tuple[str, int]:
    if request.method == "GET":
        return render_template("lookup.html", number="", name="", message=None), 200
    number = request.form.get("number", "")[:64]
    name = request.form.get("name", "")[:64]
    try:
        answer = run_lookup(number, name)
    except LookupInputError as error:
        message = i18n.translate(g.lang, error.key)
        return render_template("lookup.html", number=number, name=name, message=message), 400
    except VerificationUnavailableError:
        return render_template(
            "error.html", status=503, message=i18n.translate(g.lang, "error.503")
        ), 503
    if not answer.matched or answer.verdict is None:
        message = i18n.translate(g.lang, "lookup.no_match")
        return render_template("lookup.html", number=number, name=name, message=message), 200
    return render_template("verdict.html", verdict=answer.verdict, source="lookup"), 200
