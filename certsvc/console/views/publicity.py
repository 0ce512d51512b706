"""Publicity: open and close a session's publicity; lodge and resolve objections."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlmodel import Session
from werkzeug.wrappers import Response

from certsvc.console.access import READERS, actor, allow
from certsvc.console.state import state
from certsvc.console.views.common import attempt, form_int, form_text, read
from certsvc.errors import InputError
from certsvc.publicity.models import ObjectionChannel
from certsvc.publicity.service import (
    close_publicity,
    list_objections,
    lodge_objection,
    open_publicity,
    resolve_objection,
)
from certsvc.staff.models import Role
from certsvc.web import i18n

bp = Blueprint("publicity", __name__)


def _date(name: str) -> date | None:
    text = form_text(name, 10)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: {text!r} is not a date written YYYY-MM-DD") from None


def _back(session_id: int) -> Response:
    return redirect(url_for("roster.session_page", session_id=session_id))


@bp.post("/sessions/<int:session_id>/publicity/open")
@allow(Role.OPERATOR)
def open_(session_id: int) -> Response:
    web = state()
    days = form_int("days") or web.settings.publicity_working_days

    def act(session: Session) -> object:
        start = _date("start") or web.today()
        return open_publicity(
            session,
            web.calendar,
            session_id=session_id,
            start=start,
            working_days=days,
            backdate_reason=form_text("backdate_reason", 500) or None,
            actor=actor(),
            today=web.today(),
        )

    if attempt(act) is not None:
        flash(i18n.translate(g.lang, "console.publicity.opened"), "info")
    return _back(session_id)


@bp.post("/sessions/<int:session_id>/publicity/close")
@allow(Role.OPERATOR)
def close(session_id: int) -> Response:
    web = state()
    standing = attempt(
        lambda session: close_publicity(
            session, session_id=session_id, actor=actor(), today=web.today()
        )
    )
    if standing is not None:
        flash(
            i18n.translate(
                g.lang,
                "console.publicity.closed",
                cleared=standing.cleared,
                held=len(standing.held),
                withdrawn=len(standing.withdrawn),
            ),
            "info",
        )
    return _back(session_id)


@bp.get("/objections")
@allow(*READERS)
def objections() -> str:
    items = read(lambda session: list_objections(session))
    return render_template("objections.html", objections=items)


@bp.post("/objections")
@allow(Role.OPERATOR)
def lodge() -> Response:
    web = state()
    result_id = form_int("result_id") or 0
    session_id = form_int("session_id")
    channel_text = form_text("channel", 16) or ObjectionChannel.LETTER.value

    def act(session: Session) -> object:
        try:
            channel = ObjectionChannel(channel_text)
        except ValueError:
            raise InputError(f"{channel_text!r} is not a channel") from None
        return lodge_objection(
            session,
            result_id=result_id,
            received_on=_date("received") or web.today(),
            channel=channel,
            summary=form_text("summary"),
            actor=actor(),
            today=web.today(),
        )

    if attempt(act) is not None:
        flash(i18n.translate(g.lang, "console.objection.lodged"), "info")
    if session_id:
        return _back(session_id)
    return redirect(url_for("publicity.objections"))


@bp.post("/objections/<int:objection_id>/resolve")
@allow(Role.OPERATOR)
def resolve(objection_id: int) -> Response:
    outcome = request.form.get("outcome", "")
    session_id = form_int("session_id")
    if outcome not in ("upheld", "dismissed"):
        flash(i18n.translate(g.lang, "console.objection.outcome_missing"), "error")
    elif attempt(
        lambda session: resolve_objection(
            session,
            objection_id=objection_id,
            upheld=outcome == "upheld",
            resolution=form_text("note"),
            actor=actor(),
        )
    ):
        flash(i18n.translate(g.lang, f"console.objection.resolved_{outcome}"), "info")
    if session_id:
        return _back(session_id)
    return redirect(url_for("publicity.objections"))
