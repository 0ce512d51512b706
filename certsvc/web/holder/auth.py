"""Signing in with an identity document, a name and a one-time code; signing out.

Whatever was typed, asking for a code ends on the same page ("if the details match our
records, a code has been sent to the mobile number on record") in the same time: the request
stores a code either way (a decoy when nothing matched) and the message is written and sent
in the background (:class:`certsvc.web.holder.services.CodeCourier`), started only once the
answer has been sent.
"""

from __future__ import annotations

import threading

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from certsvc.audit.events import Action, record
from certsvc.db.types import utcnow
from certsvc.roster.identity import ID_TYPE_LABELS, IdType
from certsvc.web import i18n
from certsvc.web.clients import client_address
from certsvc.web.holder.access import (
    SESSION_CHALLENGE,
    SESSION_HOLDER,
    SESSION_NEXT,
    SESSION_NONCE,
    current_holder,
    holder_required,
    public,
    safe_next,
    signed_in_holder,
)
from certsvc.web.holder.forms import CodeForm, SignInForm
from certsvc.web.holder.services import (
    check_code,
    end_session,
    find_holder,
    holder_actor,
    identity_key,
    new_code,
    start_session,
)
from certsvc.web.holder.state import holder_state

bp = Blueprint("holder_auth", __name__, url_prefix="/me")

ID_TYPE_ENGLISH = {
    IdType.RESIDENT_ID: "Resident identity card",
    IdType.GAT_RESIDENCE_PERMIT: "Residence permit for HK, Macao and Taiwan residents",
    IdType.HKMO_TRAVEL_PERMIT: "Mainland travel permit for HK and Macao residents",
    IdType.TW_TRAVEL_PERMIT: "Mainland travel permit for Taiwan residents",
    IdType.FOREIGN_PERMANENT_RESIDENCE: "Foreign permanent resident ID card",
    IdType.FOREIGN_PASSPORT: "Foreign passport",
}


def _id_types() -> list[tuple[str, str]]:
    english = g.get("lang") == "en"
    return [
        (id_type.value, ID_TYPE_ENGLISH[id_type] if english else ID_TYPE_LABELS[id_type])
        for id_type in IdType
    ]


def _sign_in_page(form: SignInForm, message: str | None, status: int) -> tuple[str, int]:
    page = render_template("holder/sign_in.html", form=form, id_types=_id_types(), message=message)
    return page, status


def _text(key: str, **values: object) -> str:
    return i18n.translate(g.get("lang", i18n.DEFAULT_LANGUAGE), key, **values)


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Response | tuple[str, int]:
    if current_holder() is not None:
        return redirect(url_for("holder_documents.documents"), 303)
    web = holder_state()
    form = SignInForm()
    if request.method == "GET":
        session.pop(SESSION_CHALLENGE, None)
        target = safe_next(request.args.get("next"))
        if target:
            session[SESSION_NEXT] = target
        return _sign_in_page(form, None, 200)
    if not web.throttle.allow(web.client_send_limits, "send-client", client_address()):
        return _sign_in_page(form, _text("holder.sign_in.too_many_client"), 429)
    if not form.validate_on_submit():
        return _sign_in_page(form, _text("holder.sign_in.missing"), 400)
    id_type = IdType(form.id_type.data)
    secret = web.settings.secret_key
    key = identity_key(secret, id_type, form.id_number.data, form.name.data)
    if not web.throttle.allow(web.send_limits, "send-identity", key):
        return _sign_in_page(form, _text("holder.sign_in.too_many_identity"), 429)
    with web.db.session() as db_session:
        recipient = find_holder(db_session, id_type, form.id_number.data, form.name.data)
        challenge, code = new_code(
            db_session,
            secret=secret,
            recipient=recipient,
            now=utcnow(),
            minutes=web.settings.holder_code_minutes,
        )
    session[SESSION_CHALLENGE] = challenge
    response = redirect(url_for(".code"), 303)
    if code is not None:
        # delivered once the server has sent the answer and closes it: the courier's work,
        # run while the answer was still being made, slowed a holder's answer measurably
        released = threading.Event()
        response.call_on_close(released.set)
        web.courier.dispatch(code, released)
    return response


def _code_page(form: CodeForm, message: str | None, status: int) -> tuple[str, int]:
    minutes = holder_state().settings.holder_code_minutes
    return render_template("holder/code.html", form=form, message=message, minutes=minutes), status


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def code() -> Response | tuple[str, int]:
    if current_holder() is not None:
        return redirect(url_for("holder_documents.documents"), 303)
    challenge = session.get(SESSION_CHALLENGE)
    if not isinstance(challenge, str):
        return redirect(url_for(".sign_in"), 303)
    web = holder_state()
    form = CodeForm()
    if request.method == "GET":
        return _code_page(form, None, 200)
    if not web.throttle.allow(web.verify_limits, "verify-client", client_address()):
        return _code_page(form, _text("holder.code.too_many"), 429)
    if not form.validate_on_submit():
        return _code_page(form, _text("holder.code.malformed"), 400)
    now = utcnow()
    with web.db.session() as db_session:
        result = check_code(
            db_session,
            secret=web.settings.secret_key,
            challenge=challenge,
            code=form.code.data,
            now=now,
            attempts=web.settings.holder_code_attempts,
        )
        signed = None
        if result.person_id is not None:
            signed = start_session(db_session, result.person_id, now)
            record(
                db_session,
                Action.HOLDER_SIGN_IN,
                actor=holder_actor(result.person_id),
                subject_type="person",
                subject_id=result.person_id,
                details={"session": signed.id, "code": result.code_id},
            )
    if signed is not None:
        target = safe_next(session.get(SESSION_NEXT))
        session.clear()  # a new session: nothing carried over from before sign-in
        session[SESSION_HOLDER] = signed.person_id
        session[SESSION_NONCE] = signed.nonce
        session.permanent = True
        return redirect(target or url_for("holder_documents.documents"), 303)
    if result.remaining == 0:
        session.pop(SESSION_CHALLENGE, None)
        flash("holder.code.dead")
        return redirect(url_for(".sign_in"), 303)
    return _code_page(form, _text("holder.code.wrong", remaining=result.remaining), 400)


@bp.post("/sign-out")
@holder_required
def sign_out() -> Response:
    holder = signed_in_holder()
    web = holder_state()
    with web.db.session() as db_session:
        ended = end_session(db_session, holder.nonce, utcnow())
        record(
            db_session,
            Action.HOLDER_SIGN_OUT,
            actor=holder_actor(holder.person_id),
            subject_type="person",
            subject_id=holder.person_id,
            details={"session": ended.id if ended else None},
        )
    session.clear()
    flash("holder.sign_in.signed_out")
    return redirect(url_for(".sign_in"), 303)
