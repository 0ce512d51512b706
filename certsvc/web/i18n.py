"""The pages' words in Chinese (the default) and English.

A reader switches with ``?lang=en`` or ``?lang=zh``, which is remembered in a cookie. A missing
English text falls back to the Chinese one and a missing key shows as itself, so a gap is
visible rather than an error.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("zh", "en")
DEFAULT_LANGUAGE: Final = "zh"
COOKIE: Final = "lang"

_TEXT: dict[str, tuple[str, str]] = {
    # layout
    "site.title": ("电子职称证书查验", "Title document verification"),
    "site.agency": ("人力资源和社会保障部门", "Human resources and social security bureau"),
    "nav.home": ("首页", "Home"),
    "nav.verify": ("上传 PDF 查验", "Check a PDF"),
    "nav.lookup": ("按编号查询", "Look up by number"),
    "nav.api": ("开放接口", "API"),
    "lang.switch": ("English", "中文"),
    "footer.privacy": (
        "本站不显示、不保存身份证件号码，也不记录查验者的地址。",
        "This site never shows or keeps identity numbers and does not record who checks.",
    ),
    # home
    "home.lead": (
        "扫描证书上的二维码即可查验；也可以上传证书 PDF 文件，或输入证书编号和持证人姓名。",
        "Scan the QR code on a document to check it, upload the signed PDF, or type the "
        "document number and the holder's name.",
    ),
    # verdicts
    "verdict.genuine": ("真实有效", "Genuine and current"),
    "verdict.revoked": ("已撤销", "Revoked"),
    "verdict.superseded": ("已被新证书替换", "Superseded"),
    "verdict.signer-revoked": ("签发密钥已吊销", "Signing key revoked"),
    "verdict.unknown": ("查无此证", "Not in the registry"),
    "verdict.forged": ("伪造、被篡改或已损坏", "Forged, altered or damaged"),
    "verdict.genuine.lead": (
        "该文件由发证机构签发，签名完好，目前有效。",
        "This document was issued by the agency, its signature is intact and it is current.",
    ),
    "verdict.revoked.lead": (
        "该文件曾由发证机构签发，但已被撤销，不再有效。",
        "This document was issued by the agency but has been revoked and is no longer valid.",
    ),
    "verdict.superseded.lead": (
        "该文件曾由发证机构签发，但已被重新签发的文件替换，请以新文件为准。",
        "This document was issued by the agency but has been replaced by a reissued one.",
    ),
    "verdict.signer-revoked.lead": (
        "签发该文件的密钥在签名之前已被吊销，该签名不可信。",
        "The key that signed this document was revoked before it signed: do not trust it.",
    ),
    "verdict.unknown.lead": (
        "签名格式正确，但发证机构的登记簿中没有这份文件。",
        "The signature is well formed, but the agency's registry has no such document.",
    ),
    "verdict.forged.lead": (
        "该文件未能通过查验：签名或完整性检查失败。请勿信任其内容。",
        "This document failed verification: a signature or integrity check failed. "
        "Do not rely on what it says.",
    ),
    "verdict.revoked_at": ("撤销时间", "Revoked on"),
    "verdict.revocation_reason": ("撤销原因", "Reason"),
    "verdict.superseded_by": ("替换文件编号", "Replaced by"),
    "verdict.checked_at": ("查验时间", "Checked at"),
    "verdict.summary": ("说明", "Summary"),
    # document fields
    "doc.heading": ("文件信息", "Document"),
    "doc.document_number": ("编号", "Number"),
    "doc.document_type": ("文件类型", "Type"),
    "doc.holder_name": ("持证人", "Holder"),
    "doc.qualification_name": ("资格名称", "Qualification"),
    "doc.series": ("系列", "Series"),
    "doc.specialty": ("专业", "Specialty"),
    "doc.level": ("级别", "Level"),
    "doc.qualified_on": ("取得资格日期", "Qualified on"),
    "doc.issued_on": ("签发日期", "Issued on"),
    "doc.agency_name": ("发证机构", "Issuing agency"),
    "doc.signer_key_id": ("签发密钥编号", "Signer key id"),
    "doctype.certificate": ("电子职称证书", "Electronic title certificate"),
    "doctype.notice": ("电子职称评价结果通知书", "Electronic result notice"),
    # transparency log
    "log.heading": ("透明日志", "Transparency log"),
    "log.included": (
        "该文件已记入公开透明日志（第 {leaf_index} 条，日志共 {tree_size} 条）。",
        "This document is entry {leaf_index} of the public transparency log ({tree_size} entries).",
    ),
    "log.unverified": (
        "透明日志的包含证明未能验证。",
        "The transparency log's inclusion proof did not verify.",
    ),
    "log.none": ("没有透明日志记录。", "No transparency log entry was shown."),
    "log.root_hash": ("树根哈希", "Root hash"),
    # the verifier's checks (certsvc.verification.verifier.TITLES)
    "check.pdf.file": (
        "可读取、未加密、大小和页数在限制内的 PDF 文件",
        "A readable, unencrypted PDF within the size and page limits",
    ),
    "check.pdf.signature": (
        "有且只有一个签名，签名容器可读取",
        "Exactly one signature, with a readable signature container",
    ),
    "check.pdf.byte-range": (
        "签名覆盖范围只留出签名值本身",
        "The signed byte range leaves out only the signature value",
    ),
    "check.pdf.integrity": (
        "签名内容未被改动，签名值验证通过",
        "The signed bytes are unaltered and the signature value verifies",
    ),
    "check.pdf.modifications": (
        "签名后没有任何修改或添加",
        "Nothing was changed or added after signing",
    ),
    "check.pdf.certified": (
        "由发证机构认证签名，不允许任何修改",
        "Certified by the issuer, no changes allowed",
    ),
    "check.pdf.chain": (
        "签名证书链接到根证书",
        "The signer certificate chains to the bureau root",
    ),
    "check.pdf.signer": (
        "签名者是信任列表中的签发密钥",
        "The signer is a document signer in the trust list",
    ),
    "check.signer.status": (
        "签名时签发密钥未被吊销",
        "The signer was not revoked when it signed",
    ),
    "check.pdf.attachments": (
        "附有规范数据记录和二维码令牌",
        "The canonical record and the QR token are attached",
    ),
    "check.token.decode": (
        "二维码令牌格式正确",
        "The QR token is a certsvc token",
    ),
    "check.token.key": (
        "令牌的签发密钥在信任列表中",
        "The token's signer is in the trust list",
    ),
    "check.token.signature": (
        "令牌签名验证通过",
        "The token's signature verifies",
    ),
    "check.pdf.agreement": (
        "令牌、数据记录与签名一致",
        "The token, the record and the signature agree",
    ),
    "check.registry.lookup": (
        "登记簿中有该文件的签发记录",
        "The registry holds this document as issued",
    ),
    "check.registry.hash": (
        "登记簿中的文件哈希与上传文件一致",
        "The registry's stored hash is this file's",
    ),
    "check.registry.fields": (
        "登记簿记录与文件内容一致",
        "The registry's record agrees with the document",
    ),
    "check.registry.status": (
        "文件现行有效（未撤销、未被替换）",
        "The document is current (not revoked or replaced)",
    ),
    "check.log.inclusion": (
        "透明日志在已签名的树头下包含该文件",
        "The transparency log includes the document under a signed tree head",
    ),
    # checks
    "checks.heading": ("查验步骤", "Checks"),
    "outcome.passed": ("通过", "passed"),
    "outcome.failed": ("未通过", "failed"),
    "outcome.skipped": ("未执行", "skipped"),
    # upload
    "upload.heading": ("上传 PDF 文件查验", "Check a signed PDF"),
    "upload.lead": (
        "选择发证机构签发的证书或通知书 PDF 文件（不超过 {limit}）。文件只用于本次查验，不会保存。",
        "Choose the certificate or notice PDF the agency issued (at most {limit}). The file "
        "is used for this check only and is not kept.",
    ),
    "upload.file": ("PDF 文件", "PDF file"),
    "upload.submit": ("查验", "Check"),
    "upload.missing": ("请选择一个 PDF 文件。", "Please choose a PDF file."),
    "upload.not_pdf": (
        "这不是 PDF 文件：请上传发证机构签发的 PDF 原件。",
        "This is not a PDF file: upload the PDF the agency issued.",
    ),
    "upload.unreadable": (
        "无法读取该 PDF 文件（已加密、已损坏或格式不符）：{reason}",
        "This PDF cannot be read (encrypted, damaged or not in the expected form): {reason}",
    ),
    "upload.too_large": (
        "文件太大：上传的文件不能超过 {limit}。",
        "The file is too large: uploads are limited to {limit}.",
    ),
    # lookup
    "lookup.heading": ("按证书编号和姓名查询", "Look up by number and name"),
    "lookup.lead": (
        "输入纸质证书上的编号和持证人姓名。两项都一致时才显示查验结果。",
        "Type the number printed on the document and the holder's name. A result is shown "
        "only when both match.",
    ),
    "lookup.number": ("证书编号", "Document number"),
    "lookup.number_hint": ("例如 2025-110000-GC2Z-000123N", "e.g. 2025-110000-GC2Z-000123N"),
    "lookup.name": ("持证人姓名", "Holder's name"),
    "lookup.submit": ("查询", "Look up"),
    "lookup.no_match": (
        "没有与该编号和姓名同时相符的文件。请核对编号和姓名后重试。",
        "No document matches both this number and this name. Check both and try again.",
    ),
    "lookup.missing": ("请填写证书编号和持证人姓名。", "Please give both the number and the name."),
    "lookup.bad_shape": (
        "编号格式不正确：应形如 2025-110000-GC2Z-000123N"
        "（年份-地区代码-系列级别类型-序号校验位）。",
        "This is not a document number: it looks like 2025-110000-GC2Z-000123N (year, region, "
        "series, level and type, sequence and check character).",
    ),
    "lookup.bad_check": (
        "编号的校验位不符：可能有字符输入错误，请核对。",
        "The number's check character does not match: a character was probably mistyped.",
    ),
    # errors
    "error.heading": ("无法完成查验", "The check could not be done"),
    "error.bad_token": (
        "二维码中的查验信息无法识别：{reason}。请确认扫描的是发证机构签发文件上的二维码，且链接完整。",
        "The verification link could not be read: {reason}. Make sure you scanned the QR code "
        "of a document the agency issued and that the link is complete.",
    ),
    "error.400": ("请求有误。", "The request is not valid."),
    "error.404": ("找不到该页面。", "There is no such page."),
    "error.405": ("不支持该请求方式。", "This method is not allowed here."),
    "error.413": ("上传的内容太大。", "The upload is too large."),
    "error.415": ("不支持该文件类型。", "This kind of file is not accepted."),
    "error.422": ("无法处理该文件。", "This file cannot be processed."),
    "error.429": (
        "查验过于频繁，请稍后再试。",
        "Too many checks from your address: please wait a little and try again.",
    ),
    "error.500": (
        "服务出现内部错误，请稍后再试。",
        "Something went wrong on our side. Please try again later.",
    ),
    "error.503": (
        "查验服务暂时不可用，请稍后再试。",
        "The verification service is unavailable for now. Please try again later.",
    ),
    "error.back": ("返回首页", "Back to the home page"),
}


def normalise_language(value: str | None) -> str | None:
    """``zh`` or ``en`` for what a reader asked for (``zh-CN``, ``EN`` …), else None."""
    if not value:
        return None
    short = value.strip().lower()[:2]
    return short if short in LANGUAGES else None


def translate(language: str, key: str, **values: object) -> str:
    """The text for ``key`` in ``language``, with ``{name}`` fields filled in."""
    texts = _TEXT.get(key)
    if texts is None:
        return key
    text = texts[1] if language == "en" and texts[1] else texts[0]
    return text.format(**values) if values else text


def has_text(key: str) -> bool:
    return key in _TEXT


class Catalogue(dict[str, str]):
    """Every text in one language, for templates: ``tx['nav.home']``. A missing key shows as
    itself, as with :func:`translate`."""

    def __missing__(self, key: str) -> str:
        return key


_CATALOGUES: dict[str, Catalogue] = {}


def catalogue(language: str) -> Catalogue:
    """The texts of ``language`` (English falls back to Chinese), built once: a page looks up
    dozens of texts, and a dictionary look-up is what a template does fastest."""
    found = _CATALOGUES.get(language)
    if found is None:
        english = language == "en"
        found = Catalogue({key: (en if english and en else zh) for key, (zh, en) in _TEXT.items()})
        _CATALOGUES[language] = found
    return found


def extend(texts: dict[str, tuple[str, str]]) -> None:
    """Add a feature's words (``key: (chinese, english)``); a key already defined with other
    words is a programming error, so that two features cannot silently share one key."""
    for key, pair in texts.items():
        if _TEXT.get(key, pair) != pair:
            raise ValueError(f"text {key!r} is already defined with other words")
    _TEXT.update(texts)
    _CATALOGUES.clear()
