"""Will this row's documents fit? Checked at import, long before any document is made.

A passing candidate gets a certificate and a notice. Both must hold every value in the lines
their layouts allow (see :class:`certsvc.documents.layout.LayoutFit`), and the QR token on both
must fit a version-10-M QR code behind the public base URL (see
:class:`certsvc.documents.token.TokenBudget`). A row that could not be issued is refused at
import, naming the column, rather than failing months later in an issuance batch.

What a row does not decide is taken at its largest: the document number (24 characters), the
issue date, the signer (ES256, the only algorithm tokens have). Only passing rows are checked:
a candidate who did not pass gets no document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from certsvc.config import Settings
from certsvc.documents.fonts import FontSet
from certsvc.documents.layout import Layout, LayoutFit
from certsvc.documents.material import renderer_for
from certsvc.documents.record import DocumentType
from certsvc.documents.render import format_date
from certsvc.documents.token import MAX_DOCUMENT_NUMBER_LENGTH, TokenBudget
from certsvc.roster.identity import GENDER_LABELS, ID_TYPE_LABELS
from certsvc.roster.row import RosterRow, RowError

# record field -> the roster column that supplies it
COLUMN_OF_FIELD: Mapping[str, str] = {
    "holder_name": "name",
    "id_type": "id_type",
    "id_number": "id_number",
    "gender": "gender",
    "birth_date": "birth_date",
    "work_unit": "work_unit",
    "series": "series",
    "specialty": "specialty",
    "level": "level",
    "qualification_name": "qualification_name",
    "committee_name": "committee_name",
    "qualified_on": "review_date",
}
_WIDE_DATE = format_date(date(2088, 12, 28))  # as wide as a date is drawn


class DocumentChecks:
    """Checks a roster row against the layouts (with their fonts) and the QR budget."""

    def __init__(
        self,
        fonts: FontSet,
        layouts: Mapping[DocumentType, Layout],
        *,
        public_base_url: str,
        agency_name: str = "",
    ) -> None:
        self.public_base_url = public_base_url
        self.budget = TokenBudget(public_base_url)
        number = max("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-", key=lambda c: fonts.width(c, 1.0))
        self.layout_fit = LayoutFit(
            fonts,
            layouts,
            others={
                "document_number": number * MAX_DOCUMENT_NUMBER_LENGTH,
                "agency_name": agency_name,
                "issued_on": _WIDE_DATE,
                "verify_url": public_base_url.rstrip("/") + "/verify",
                "signer_key_id": "f" * 16,
                "document_type": DocumentType.NOTICE.heading,
            },
        )

    @classmethod
    def for_settings(cls, settings: Settings) -> DocumentChecks:
        """With the fonts, layouts (``CERTSVC_TEMPLATE_DIR``) and base URL documents will be
        made with, the layouts checked as the renderer checks them."""
        renderer = renderer_for(settings)
        return cls(
            renderer.fonts,
            renderer.layouts,
            public_base_url=settings.public_base_url,
            agency_name=settings.agency_name,
        )

    def check(self, row: RosterRow) -> list[RowError]:
        """Every reason ``row``'s documents could not be made (none for a failed candidate)."""
        if not row.passed:
            return []
        errors: list[RowError] = []
        session = row.session
        values = {
            "holder_name": row.name,
            "id_type": ID_TYPE_LABELS[row.identity.id_type],
            "id_number": row.identity.number,
            "gender": GENDER_LABELS[row.gender],
            "birth_date": format_date(row.birth_date),
            "work_unit": row.work_unit,
            "series": session.series,
            "specialty": session.specialty,
            "level": session.level.value,
            "qualification_name": row.qualification_name,
            "committee_name": session.committee_name,
            "qualified_on": format_date(row.review_date),
        }
        seen: set[str] = set()
        for problem in self.layout_fit.check(values):
            column = COLUMN_OF_FIELD.get(problem.field, problem.field)
            if column not in seen:  # the certificate's problem, not the notice's too
                seen.add(column)
                errors.append(RowError(row.number, column, problem.reason))
        size = self.budget.size(
            holder_name=row.name,
            series=session.series,
            level=session.level,
            qualification_name=row.qualification_name,
            specialty=session.specialty,
            qualified_on=row.review_date,
        )
        if not size.fits:
            blamed = max(sorted(size.fields), key=lambda field: size.fields[field])
            parts = ", ".join(f"{COLUMN_OF_FIELD[f]} {n}" for f, n in sorted(size.fields.items()))
            errors.append(
                RowError(
                    row.number,
                    COLUMN_OF_FIELD[blamed],
                    f"too long for the QR code: the documents' QR token would need "
                    f"{size.size} bytes where a version-10-M QR code behind "
                    f"{self.public_base_url} holds {size.capacity} (bytes by column: {parts}); "
                    f"about {size.size - size.capacity} bytes must go, a Chinese character "
                    "is 2",
                )
            )
        return errors
