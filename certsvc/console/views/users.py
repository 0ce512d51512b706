"""Staff accounts (admin): list, create (the TOTP secret shown once), roles, disable."""

from __future__ import annotations

import segno
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from certsvc.console.access import actor, allow
from certsvc.console.views.common import attempt, form_text, read
from certsvc.staff import service
from certsvc.staff.models import Role
from certsvc.web import i18n

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.get("")
@allow(Role.ADMIN)
def index() -> str:
    users = read(service.list_staff)
    return render_template("users.html", users=users, roles=list(Role), created=None)


@bp.post("")
@allow(Role.ADMIN)
def create() -> Response | tuple[str, int]:
    username = form_text("username", 64)
    password = request.form.get("password", "")[:512]
    roles = request.form.getlist("roles")
    created = attempt(
        lambda session: service.create_staff(
            session, username=username, password=password, roles=roles, actor=actor()
        )
    )
    if created is None:
        return redirect(url_for("users.index"))
    users = read(service.list_staff)
    qr = segno.make(created.provisioning_uri, error="m").svg_inline(scale=4)
    return render_template(
        "users.html",
        users=users,
        roles=list(Role),
        created={"username": created.user.username, "uri": created.provisioning_uri},
        qr=Markup(qr),  # noqa: S704  # segno's own SVG of the URI, no reader input inside
    ), 201


@bp.post("/<username>/roles")
@allow(Role.ADMIN)
def roles(username: str) -> Response:
    chosen = request.form.getlist("roles")
    if attempt(lambda session: service.set_roles(session, username, chosen, actor=actor())):
        flash(i18n.translate(g.lang, "console.users.roles_changed", user=username), "info")
    return redirect(url_for("users.index"))


@bp.post("/<username>/disable")
@allow(Role.ADMIN)
def disable(username: str) -> Response:
    if attempt(lambda session: service.disable_staff(session, username, actor=actor())):
        flash(i18n.translate(g.lang, "console.users.disabled", user=username), "info")
    return redirect(url_for("users.index"))
