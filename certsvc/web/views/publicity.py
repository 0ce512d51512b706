"""``/publicity``: the public publicity listing (公示名单) of every session in publicity.

It shows what the bureau publicises — each passing candidate's name and work unit, with the
session's series, specialty, level, qualification and publicity dates — and never an identity
number or a mobile number. Withdrawn results are left out. Rate-limited per client like the
verification pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, render_template
from flask_limiter import Limiter
from sqlmodel import col, select

from certsvc.publicity.models import PublicityPeriod, PublicityStatus
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.web import i18n
from certsvc.web.state import state

bp = Blueprint("publicity", __name__)


@dataclass(frozen=True)
class Listed:
    name: str
    work_unit: str


@dataclass(frozen=True)
class Listing:
    review: ReviewSession
    period: PublicityPeriod
    people: list[Listed]


def listings() -> list[Listing]:
    with state().db.session() as session:
        pairs = session.exec(
            select(ReviewSession, PublicityPeriod)
            .join(PublicityPeriod, col(PublicityPeriod.session_id) == col(ReviewSession.id))
            .where(PublicityPeriod.status == PublicityStatus.OPEN)
            .order_by(col(PublicityPeriod.start_date), col(ReviewSession.id))
        ).all()
        out = []
        for review, period in pairs:
            rows = session.exec(
                select(Person.name, Person.work_unit)  # nothing else of the person is read
                .join(ReviewResult, col(ReviewResult.person_id) == col(Person.id))
                .where(
                    ReviewResult.session_id == review.id,
                    col(ReviewResult.passed).is_(True),
                    col(ReviewResult.withdrawn_at).is_(None),
                )
                .order_by(col(ReviewResult.id))
            ).all()
            out.append(Listing(review, period, [Listed(n, w) for n, w in rows]))
    return out


@bp.get("/publicity")
def listing_page() -> str:
    return render_template("publicity.html", listings=listings())


def register(app: Flask, limiter: Limiter) -> None:
    """Add the page to the public app, under the same per-client limit as the other pages."""
    i18n.extend(TEXTS)
    limiter.limit(lambda: state().settings.web_rate_limit)(bp)
    app.register_blueprint(bp)


TEXTS: dict[str, tuple[str, str]] = {
    "publicity.heading": ("职称评审结果公示", "Review results in publicity"),
    "publicity.lead": (
        "以下人员通过职称评审，现予公示。对公示人员有异议的，请在公示期内向发证机构反映。",
        "The people below passed their title review and are publicised. Objections may be "
        "made to the agency until the end of the publicity period.",
    ),
    "publicity.period": ("公示期：{start} 至 {end}", "Publicity: {start} to {end}"),
    "publicity.name": ("姓名", "Name"),
    "publicity.work_unit": ("工作单位", "Work unit"),
    "publicity.committee": ("评审委员会", "Committee"),
    "publicity.none": ("目前没有正在公示的评审结果。", "No review results are in publicity now."),
}
