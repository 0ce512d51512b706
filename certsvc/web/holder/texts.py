"""The holder pages' words (Chinese, English), added to the catalogue by :func:`register`."""

from __future__ import annotations

from certsvc.web import i18n

TEXTS: dict[str, tuple[str, str]] = {
    "nav.holder": ("持证人登录", "Holders: sign in"),
    "holder.nav.documents": ("我的证书", "My documents"),
    "holder.nav.sign_out": ("退出登录", "Sign out"),
    # sign-in
    "holder.sign_in.heading": ("持证人登录", "Sign in as a holder"),
    "holder.sign_in.lead": (
        "请填写证件类型、证件号码和姓名。信息相符时，我们会向您登记的手机号码发送一次性验证码。",
        "Give your identity document type and number and your name. If they match our "
        "records, we send a one-time code to the mobile number on record.",
    ),
    "holder.sign_in.id_type": ("证件类型", "Identity document"),
    "holder.sign_in.id_number": ("证件号码", "Document number"),
    "holder.sign_in.name": ("姓名", "Name"),
    "holder.sign_in.submit": ("获取验证码", "Send me a code"),
    "holder.sign_in.missing": (
        "请填写证件类型、证件号码和姓名。",
        "Please give the document type, its number and your name.",
    ),
    "holder.sign_in.too_many_client": (
        "您所在网络的登录请求过于频繁，请稍后再试。",
        "Too many sign-in requests from your address. Please try again later.",
    ),
    "holder.sign_in.too_many_identity": (
        "这些信息的验证码请求过于频繁，请稍后再试。",
        "Too many codes were asked for with these details. Please try again later.",
    ),
    "holder.sign_in.expired": (
        "登录已超时，请重新登录。",
        "Your session has ended. Please sign in again.",
    ),
    "holder.sign_in.signed_out": ("您已安全退出。", "You are signed out."),
    "holder.sign_in.required": ("请先登录。", "Please sign in first."),
    # the code
    "holder.code.heading": ("输入验证码", "Enter the code"),
    "holder.code.sent": (
        "如果您填写的信息与我们的记录相符，验证码已发送至您登记的手机号码，{minutes} 分钟内有效。",
        "If the details match our records, a code has been sent to the mobile number on "
        "record. It is valid for {minutes} minutes.",
    ),
    "holder.code.label": ("6 位验证码", "6-digit code"),
    "holder.code.submit": ("登录", "Sign in"),
    "holder.code.again": ("没有收到？重新获取", "Nothing came? Ask again"),
    "holder.code.malformed": ("验证码是 6 位数字。", "The code is 6 digits."),
    "holder.code.wrong": (
        "验证码不正确，还可以再试 {remaining} 次。",
        "That code is not right. You may try {remaining} more time(s).",
    ),
    "holder.code.dead": (
        "验证码已失效（已使用、已过期或错误次数过多），请重新获取。",
        "That code can no longer be used (used, expired or tried too often). Ask for a new one.",
    ),
    "holder.code.too_many": (
        "验证尝试过于频繁，请稍后再试。",
        "Too many attempts from your address. Please wait and try again.",
    ),
    # my documents
    "holder.documents.heading": ("我的证书", "My documents"),
    "holder.documents.lead": (
        "{name}，以下是发给您的全部电子职称证书和评价结果通知书（最新的在前）。",
        "{name}, these are all the certificates and result notices issued to you, newest first.",
    ),
    "holder.documents.none": ("暂无可显示的文件。", "There is nothing to show yet."),
    "holder.documents.preview": ("第一页预览", "Preview of the first page"),
    "holder.documents.open": ("查看与分享", "Details and sharing"),
    "holder.documents.download": ("下载 PDF", "Download the PDF"),
    "holder.status.issued": ("有效", "Current"),
    "holder.status.revoked": ("已撤销", "Revoked"),
    "holder.status.superseded": ("已被替换", "Superseded"),
    "holder.status.revoked_detail": (
        "{date} 撤销，原因：{reason}",
        "Revoked on {date}: {reason}",
    ),
    "holder.status.superseded_detail": ("已由 {number} 替换", "Replaced by {number}"),
    "holder.status.scheduled": ("有效，已决定撤销", "Current; revocation decided"),
    "holder.status.scheduled_detail": (
        "将自 {date} 起撤销，原因：{reason}",
        "Revoked from {date}: {reason}",
    ),
    "holder.document.status": ("状态", "Status"),
    "holder.document.replaces": ("替换了", "Replaces"),
    "holder.reason.fraud_on_recheck": ("复核发现弄虚作假", "fraud found on re-check"),
    "holder.reason.upheld_complaint": ("投诉举报经查属实", "a complaint was upheld"),
    "holder.reason.issued_in_error": ("误发", "issued in error"),
    "holder.reason.holder_request": ("本人申请", "at the holder's request"),
    # share links
    "holder.share.heading": ("分享链接", "Share links"),
    "holder.share.lead": (
        "为用人单位生成一个限时链接：对方打开即可看到本文件的查验结果并下载 PDF，无需登录。"
        "您可以随时撤销。",
        "Make a time-limited link for an employer: it opens the verification page of this "
        "document with the PDF attached, without signing in. You can revoke it at any time.",
    ),
    "holder.share.days": ("有效期", "Valid for"),
    "holder.share.days_option": ("{days} 天", "{days} day(s)"),
    "holder.share.create": ("生成分享链接", "Make a share link"),
    "holder.share.new": (
        "新链接已生成。请现在复制：出于安全考虑，完整链接只显示这一次。",
        "Your new link is ready. Copy it now: for your safety the full link is shown only once.",
    ),
    "holder.share.none": ("还没有分享链接。", "No share links yet."),
    "holder.share.created": ("生成于", "Made"),
    "holder.share.expires": ("有效至", "Expires"),
    "holder.share.opened": ("打开次数", "Opened"),
    "holder.share.state.active": ("有效", "Open"),
    "holder.share.state.expired": ("已过期", "Expired"),
    "holder.share.state.revoked": ("已撤销", "Revoked"),
    "holder.share.revoke": ("撤销", "Revoke"),
    "holder.share.revoked": ("链接已撤销。", "The link is revoked."),
    "holder.share.bad_days": ("请选择有效期。", "Please choose how long the link is valid."),
    "holder.share.not_current": (
        "只有有效的文件才能分享。",
        "Only a current document can be shared.",
    ),
    "holder.share.too_many": (
        "该文件的有效分享链接已达上限，请先撤销不再需要的链接。",
        "This document has as many open links as allowed: revoke one you no longer need.",
    ),
    "holder.share.attachment": ("持证人分享的文件", "Shared by the holder"),
    "holder.share.attachment_lead": (
        "持证人通过限时链接与您分享了这份文件（链接有效至 {expires}）。"
        "上面的查验结果来自发证机构的登记簿。",
        "The holder shared this document with you through a time-limited link (open until "
        "{expires}). The verdict above comes from the agency's registry.",
    ),
    "holder.share.download": ("下载签名 PDF 原件", "Download the signed PDF"),
    "holder.share.gone_heading": ("链接无效", "This link does not work"),
    "holder.share.gone": (
        "该分享链接无效、已过期或已被持证人撤销。请向持证人索取新的链接，"
        "或使用本站的其他查验方式。",
        "This share link is not valid, has expired or was withdrawn by the holder. Ask the "
        "holder for a new link, or check the document another way on this site.",
    ),
    # errors
    "holder.csrf": (
        "页面已过期或请求无效，请返回上一页刷新后重试。",
        "This page has expired or the request is not valid. Go back, reload and try again.",
    ),
    "holder.preview_unavailable": ("预览暂不可用", "No preview for now"),
}


def register() -> None:
    i18n.extend(TEXTS)
