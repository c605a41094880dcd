//! The OpenAPI 3.1 document of `/api/v1` and the media proxy, served at
//! `/api/v1/openapi.json`. Written by hand (a few read-only operations do not justify a
//! schema-derive dependency); a unit test checks that every API route is described and that
//! the example shapes match what handlers return. Every way a credential is accepted is a
//! security scheme: the bearer header, the session cookie, the `access_token` query parameter,
//! and for `/media` a page's signature.

use serde_json::{Value, json};

/// API routes, as the router registers them (the test compares the two).
#[cfg(test)]
pub const PATHS: &[&str] = &[
    "/api/v1/search",
    "/api/v1/parts/{system}/{number}",
    "/api/v1/parts/{system}/{number}/{revision}",
    "/api/v1/clips/{system}/{asset_id}",
    "/api/v1/openapi.json",
    "/media/{system}/{asset_id}",
];

fn param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
           "schema": {"type": "string"}})
}

fn ok(schema: &str, description: &str) -> Value {
    json!({
        "200": {"description": description,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/NotFound"}
    })
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

/// The document.
pub fn document() -> Value {
    let part_hit = json!({
        "type": "object",
        "required": ["system", "number", "revision", "name", "clip_count"],
        "properties": {
            "system": {"type": "string"}, "number": {"type": "string"},
            "revision": {"type": "string"}, "name": {"type": "string"},
            "sku": nullable("string"), "lifecycle_state": nullable("string"),
            "clip_count": {"type": "integer", "description": "links on the revision that are not retired"}
        }
    });
    let link = json!({
        "type": "object",
        "properties": {
            "link_id": {"type": "string"},
            "status": {"enum": ["active", "retired", "non_compliant", "rights_expired"]},
            "origin": {"enum": ["tagged", "carried"]},
            "plm_system": {"type": "string"}, "part_number": {"type": "string"},
            "part_revision": {"type": "string"}, "dam_system": {"type": "string"},
            "asset_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "synced_at": {"type": "string", "format": "date-time"},
            "run_id": {"type": "string"},
            "run_finished_at": {"type": ["string", "null"], "format": "date-time"}
        }
    });
    let clip = json!({
        "type": "object",
        "properties": {
            "dam_system": {"type": "string"}, "asset_id": {"type": "string"},
            "title": {"type": "string"},
            "modified": {"type": "string", "format": "date-time"},
            "version": nullable("string"), "archived": {"type": "boolean"},
            "deleted": {"type": "boolean"}, "rendition_url": nullable("string"),
            "prompt": nullable("string"), "model": nullable("string"),
            "model_version": nullable("string"), "campaign": nullable("string"),
            "review_status": nullable("string"), "rights_notes": nullable("string"),
            "rights_expiry": nullable("string"),
            "watermark": {"type": "object", "properties": {
                "visible_field": nullable("boolean"),
                "provenance": {"enum": ["unchecked", "valid", "invalid", "missing"]},
                "claim_generator": nullable("string")}},
            "watermark_preserved": {"type": "boolean"}
        }
    });
    let badge = json!({
        "type": "object",
        "properties": {
            "kind": {"enum": ["watermark_preserved", "provenance_problem", "rights_expired", "link_retired"]},
            "label": {"type": "string"}
        }
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "partreel viewer API",
            "version": "1",
            "description": "Read-only view of the prompt-to-part links partreel keeps: part revisions, the AI video clips linked to them, and their watermark, provenance, rights and link status."
        },
        "security": [{"bearer": []}, {"cookie": []}, {"query": []}],
        "paths": {
            "/api/v1/search": {"get": {
                "operationId": "search",
                "summary": "Part revisions by part number, SKU, name, campaign or prompt text",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}
                ],
                "responses": ok("SearchResponse", "matching part revisions")
            }},
            "/api/v1/parts/{system}/{number}": {"get": {
                "operationId": "partRevisions",
                "summary": "Every revision of a part number",
                "parameters": [param("system", "PLM system name"), param("number", "part number")],
                "responses": ok("RevisionsResponse", "the revisions")
            }},
            "/api/v1/parts/{system}/{number}/{revision}": {"get": {
                "operationId": "partRevision",
                "summary": "A part revision, its linked clips with badges, and its sibling revisions",
                "parameters": [param("system", "PLM system name"), param("number", "part number"), param("revision", "revision")],
                "responses": ok("PartResponse", "the part revision")
            }},
            "/api/v1/clips/{system}/{asset_id}": {"get": {
                "operationId": "clip",
                "summary": "A clip and every part revision it is linked to",
                "parameters": [param("system", "DAM system name"), param("asset_id", "DAM asset id")],
                "responses": ok("ClipResponse", "the clip")
            }},
            "/media/{system}/{asset_id}": {"get": {
                "operationId": "media",
                "summary": "The clip's playable rendition, streamed from the DAM (Range requests honoured)",
                "description": "Fetched from the configured DAM hosts only. A page signs its own video links (`exp`, `sig`), so a `<video>` element plays without a cookie, even inside a third-party iframe; any other caller presents a credential.",
                "security": [{"bearer": []}, {"cookie": []}, {"query": []}, {"signature": []}],
                "parameters": [param("system", "DAM system name"), param("asset_id", "DAM asset id"),
                    {"name": "Range", "in": "header", "schema": {"type": "string"}, "example": "bytes=0-"}],
                "responses": {
                    "200": {"description": "the whole file", "content": {"video/*": {}}},
                    "206": {"description": "the requested range", "content": {"video/*": {}}},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "403": {"description": "the rendition is not on a configured DAM host, or not http(s)"},
                    "404": {"description": "unknown clip, or no playable rendition"},
                    "416": {"description": "range not satisfiable"},
                    "502": {"description": "the DAM did not deliver the file (details in the server log, never in the answer)"}
                }
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI document"},
                              "401": {"$ref": "#/components/responses/Unauthorized"}}
            }}
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "A static token from the viewer configuration, or an OIDC access token (JWT)."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "partreel_token",
                    "description": "The same credential as a session cookie (HttpOnly, SameSite=Lax), set when a page is opened with `?access_token=`."},
                "query": {"type": "apiKey", "in": "query", "name": "access_token",
                    "description": "The same credential in the query, for links and PLM iframes; a page opened this way sets the cookie."},
                "signature": {"type": "apiKey", "in": "query", "name": "sig",
                    "description": "`/media` only: the signature a page puts on its own video links, with their expiry `exp` (Unix seconds)."}
            },
            "responses": {
                "Unauthorized": {"description": "No credential, or a wrong or expired one"},
                "NotFound": {"description": "Unknown part revision or clip",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"}}}}},
                "PartHit": part_hit,
                "Link": link,
                "Clip": clip,
                "Badge": badge,
                "ClipEntry": {"type": "object", "properties": {
                    "link": {"$ref": "#/components/schemas/Link"},
                    "clip": {"oneOf": [{"$ref": "#/components/schemas/Clip"}, {"type": "null"}]},
                    "badges": {"type": "array", "items": {"$ref": "#/components/schemas/Badge"}},
                    "video_url": nullable("string"),
                    "clip_path": {"type": "string"}}},
                "SearchResponse": {"type": "object", "properties": {
                    "query": {"type": "string"},
                    "results": {"type": "array", "items": {"$ref": "#/components/schemas/PartHit"}}}},
                "RevisionsResponse": {"type": "object", "properties": {
                    "system": {"type": "string"}, "number": {"type": "string"},
                    "revisions": {"type": "array", "items": {"$ref": "#/components/schemas/PartHit"}}}},
                "PartResponse": {"type": "object", "properties": {
                    "part": {"type": "object", "properties": {
                        "system": {"type": "string"}, "number": {"type": "string"},
                        "revision": {"type": "string"}, "remote_id": {"type": "string"},
                        "name": {"type": "string"}, "sku": nullable("string"),
                        "lifecycle_state": nullable("string"),
                        "modified": {"type": "string", "format": "date-time"},
                        "values": {"type": "object", "additionalProperties": {"type": "string"}}}},
                    "plm_record_url": nullable("string"),
                    "clips": {"type": "array", "items": {"$ref": "#/components/schemas/ClipEntry"}},
                    "revisions": {"type": "array", "items": {"$ref": "#/components/schemas/PartHit"}}}},
                "ClipResponse": {"type": "object", "properties": {
                    "clip": {"$ref": "#/components/schemas/Clip"},
                    "links": {"type": "array", "items": {"type": "object", "properties": {
                        "link": {"$ref": "#/components/schemas/Link"},
                        "part": {"oneOf": [{"$ref": "#/components/schemas/PartHit"}, {"type": "null"}]}}}},
                    "badges": {"type": "array", "items": {"$ref": "#/components/schemas/Badge"}},
                    "video_url": nullable("string")}}
            }
        }
    })
}
