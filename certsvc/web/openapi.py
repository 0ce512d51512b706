"""The OpenAPI 3.1 document of ``/api/v1/``, written by hand (served at
``/api/v1/openapi.json``; the tests validate it and check it names every API route)."""

from __future__ import annotations

from typing import Any

from certsvc.revocation.service import STATUS_LIST_MEDIA_TYPE
from certsvc.revocation.status_list import STATUS_LIST_PATH
from certsvc.web.present import DOCUMENT_FIELDS

API_VERSION = "1.0.0"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_RATE_LIMITED = _error("Too many requests from this address; retry after the Retry-After header")
_NUMBER = {
    "type": "string",
    "pattern": r"^\s*\d{4}-\d{6}-[A-Za-z]{2}[1-4][ZTzt]-\d{6}[0-9A-Za-z]\s*$",
    "examples": ["2025-110000-GC2Z-000123N"],
    "description": "A document number with its ISO 7064 MOD 37,36 check character",
}
_NULLABLE_STRING = {"type": ["string", "null"]}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["bad_token"]},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "PublicFields": {
        "type": "object",
        "description": "What a verifier may see of a document: never the identity number",
        "required": list(DOCUMENT_FIELDS),
        "properties": {
            "document_number": {"type": "string"},
            "document_type": {"type": "string", "enum": ["certificate", "notice"]},
            "holder_name": {"type": "string"},
            "qualification_name": {"type": "string"},
            "series": {"type": "string"},
            "specialty": {"type": "string"},
            "level": {"type": "string"},
            "qualified_on": {"type": "string", "format": "date"},
            "issued_on": {"type": "string", "format": "date"},
            "agency_name": {"type": "string"},
            "signer_key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        },
    },
    "Check": {
        "type": "object",
        "required": ["code", "title", "outcome", "detail"],
        "properties": {
            "code": {"type": "string", "examples": ["token.signature"]},
            "title": {"type": "string"},
            "outcome": {"type": "string", "enum": ["passed", "failed", "skipped"]},
            "detail": {"type": "string"},
        },
    },
    "Verdict": {
        "type": "object",
        "required": ["verdict", "genuine_and_current", "summary", "checks"],
        "properties": {
            "verdict": {
                "type": "string",
                "enum": ["genuine", "revoked", "superseded", "signer-revoked", "unknown", "forged"],
            },
            "genuine_and_current": {"type": "boolean"},
            "summary": {"type": "string"},
            "checked_at": {"type": ["string", "null"], "format": "date-time"},
            "document": {
                "oneOf": [{"$ref": "#/components/schemas/PublicFields"}, {"type": "null"}]
            },
            "registry": {
                "type": ["object", "null"],
                "properties": {
                    "status": {"type": "string"},
                    "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                    "revocation_reason": _NULLABLE_STRING,
                    "superseded_by": _NULLABLE_STRING,
                    "revocation_effective_on": {
                        "type": ["string", "null"],
                        "format": "date",
                        "description": "The day a revocation takes effect; with status "
                        "'issued', a revocation is scheduled for that day",
                    },
                },
            },
            "log": {
                "type": ["object", "null"],
                "properties": {
                    "leaf_index": {"type": "integer"},
                    "tree_size": {"type": "integer"},
                    "root_hash": {"type": "string"},
                    "verified": {"type": "boolean"},
                },
            },
            "checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}},
        },
    },
    "TreeHead": {
        "type": "object",
        "required": ["tree_size", "root_hash", "signed_at", "origin", "key_id", "checkpoint"],
        "properties": {
            "tree_size": {"type": "integer", "minimum": 0},
            "root_hash": {"type": "string", "description": "SHA-256, hex"},
            "signed_at": {"type": "string", "format": "date-time"},
            "origin": {"type": "string"},
            "key_id": {"type": "string"},
            "checkpoint": {"type": "string", "description": "C2SP checkpoint body"},
            "signed_checkpoint": {
                "type": "string",
                "contentEncoding": "base64",
                "description": "COSE_Sign1 over the checkpoint body, by the agency key",
            },
        },
    },
    "InclusionProof": {
        "type": "object",
        "required": ["leaf_index", "tree_size", "leaf_hash", "inclusion_path"],
        "properties": {
            "leaf_index": {"type": "integer"},
            "tree_size": {"type": "integer"},
            "leaf_hash": {"type": "string"},
            "inclusion_path": {"type": "array", "items": {"type": "string"}},
        },
    },
    "LogProof": {
        "type": "object",
        "required": ["document_number", "tree_head", "entries"],
        "properties": {
            "document_number": {"type": "string"},
            "tree_head": {"$ref": "#/components/schemas/TreeHead"},
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["leaf_index", "kind", "entry", "inclusion_proof"],
                    "properties": {
                        "leaf_index": {"type": "integer"},
                        "kind": {"type": "string", "enum": ["issue", "revoke", "reissue"]},
                        "entry": {"type": "string", "description": "the RFC 8785 JSON hashed"},
                        "inclusion_proof": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/InclusionProof"},
                                {"type": "null"},
                            ]
                        },
                    },
                },
            },
        },
    },
    "ConsistencyProof": {
        "type": "object",
        "required": ["first", "second", "consistency_path"],
        "properties": {
            "first": {"type": "integer"},
            "second": {"type": "integer"},
            "consistency_path": {"type": "array", "items": {"type": "string"}},
        },
    },
    "StatusQuery": {
        "type": "object",
        "required": ["number", "name"],
        "properties": {"number": _NUMBER, "name": {"type": "string", "maxLength": 64}},
    },
    "Limits": {
        "type": "object",
        "properties": {
            "max_upload_bytes": {"type": "integer"},
            "max_upload": {"type": "string"},
            "max_pages": {"type": "integer"},
        },
    },
}


def openapi_document(base_url: str) -> dict[str, Any]:
    token_param = {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "The digits after /v/ in the QR code's URL",
        "schema": {"type": "string", "pattern": "^[1-9][0-9]*$", "maxLength": 1000},
    }
    verdict = _json("The verdict and every check", "Verdict")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "certsvc public verification API",
            "version": API_VERSION,
            "description": (
                "Verify electronic professional-title documents (电子职称证书, "
                "电子职称评价结果通知书) by QR token or signed PDF, look one up by number and "
                "holder name, and audit the transparency log. Identity numbers are never "
                "returned. Every route is rate-limited per client address."
            ),
        },
        "servers": [{"url": base_url.rstrip("/") + "/api/v1"}],
        "paths": {
            "/verify/token/{token}": {
                "get": {
                    "operationId": "verifyToken",
                    "summary": "Verify a QR token",
                    "parameters": [token_param],
                    "responses": {
                        "200": verdict,
                        "400": _error("The token does not decode"),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/verify/pdf": {
                "post": {
                    "operationId": "verifyPdf",
                    "summary": "Verify a signed PDF (multipart field 'file', or the raw body)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/pdf": {
                                "schema": {"type": "string", "contentMediaType": "application/pdf"}
                            },
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {
                                            "type": "string",
                                            "contentMediaType": "application/pdf",
                                        }
                                    },
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": verdict,
                        "400": _error("No file was sent"),
                        "413": _error("The upload is larger than the limit (see /limits)"),
                        "415": _error("The file is not a PDF"),
                        "422": _error("The PDF is encrypted, damaged or too long"),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/status": {
                "post": {
                    "operationId": "statusByNumber",
                    "summary": "A document's verdict by its number and the holder's name",
                    "description": (
                        "Both must match. An unknown number and a wrong name get the same "
                        "404 answer. Rate-limited more tightly than the other routes."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/StatusQuery"}
                            },
                            "application/x-www-form-urlencoded": {
                                "schema": {"$ref": "#/components/schemas/StatusQuery"}
                            },
                        },
                    },
                    "responses": {
                        "200": verdict,
                        "400": _error("A field is missing, or the number is malformed"),
                        "404": _error("No document matches both the number and the name"),
                        "429": _RATE_LIMITED,
                    },
                },
                "get": {
                    "operationId": "statusByNumberQuery",
                    "summary": "The same with query parameters (prefer POST: names in URLs "
                    "end up in logs)",
                    "parameters": [
                        {"name": "number", "in": "query", "required": True, "schema": _NUMBER},
                        {
                            "name": "name",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 64},
                        },
                    ],
                    "responses": {
                        "200": verdict,
                        "400": _error("A field is missing, or the number is malformed"),
                        "404": _error("No document matches both the number and the name"),
                        "429": _RATE_LIMITED,
                    },
                },
            },
            "/log/head": {
                "get": {
                    "operationId": "logHead",
                    "summary": "The newest signed tree head of the transparency log",
                    "responses": {
                        "200": _json("The tree head", "TreeHead"),
                        "404": _error("No tree head has been signed yet"),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/log/proof/{number}": {
                "get": {
                    "operationId": "logProof",
                    "summary": "The log entries of a document and their inclusion proofs "
                    "in the newest tree head",
                    "parameters": [
                        {"name": "number", "in": "path", "required": True, "schema": _NUMBER}
                    ],
                    "responses": {
                        "200": _json("Entries and proofs", "LogProof"),
                        "400": _error("Not a document number"),
                        "404": _error("The log has no entry for this number"),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/log/consistency": {
                "get": {
                    "operationId": "logConsistency",
                    "summary": "RFC 9162 consistency proof between two tree sizes",
                    "parameters": [
                        {
                            "name": "first",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        },
                        {
                            "name": "second",
                            "in": "query",
                            "required": False,
                            "description": "Default: the newest tree head's size",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                    ],
                    "responses": {
                        "200": _json("The proof", "ConsistencyProof"),
                        "400": _error("A size is not a number or lies beyond the log"),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/limits": {
                "get": {
                    "operationId": "limits",
                    "summary": "Upload limits",
                    "responses": {"200": _json("The limits", "Limits"), "429": _RATE_LIMITED},
                }
            },
            STATUS_LIST_PATH: {
                "servers": [{"url": base_url.rstrip("/")}],
                "get": {
                    "operationId": "statusList",
                    "summary": "The newest signed status list (outside /api/v1: the URL every "
                    "document's record names)",
                    "description": (
                        "A compact JWS (ES256, header typ certsvc-status-list+jwt) signed by a "
                        "document signer of the trust list; its payload holds a 2-bit entry per "
                        "document (0 valid, 1 revoked, 2 superseded), GZIP-compressed, at the "
                        "index the document's record names (credentialStatus."
                        "statusListIndex). Check the signature against the trust list, that "
                        "next_update has not passed, and that sequence is not older than one "
                        "already accepted. Cacheable for at most five minutes; send "
                        "If-None-Match or If-Modified-Since to revalidate. Not rate-limited."
                    ),
                    "parameters": [
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                        {
                            "name": "If-Modified-Since",
                            "in": "header",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The signed status list",
                            "headers": {
                                "ETag": {"schema": {"type": "string"}},
                                "Last-Modified": {"schema": {"type": "string"}},
                                "Cache-Control": {"schema": {"type": "string"}},
                            },
                            "content": {
                                STATUS_LIST_MEDIA_TYPE: {
                                    "schema": {
                                        "type": "string",
                                        "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\."
                                        r"[A-Za-z0-9_-]+$",
                                    }
                                }
                            },
                        },
                        "304": {"description": "Not modified since the copy the client holds"},
                        "503": _error(
                            "No status list was ever published (code status_list_unpublished), "
                            "or the newest is past its next_update (status_list_expired)"
                        ),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
        },
        "components": {"schemas": _SCHEMAS},
    }
