//! The service API: HTTP/JSON on axum. Every error answer is `{"errorCode":n,"message":".."}`
//! with the matching HTTP status. The routes are listed in docs/emulator.md.

use crate::hub::{ApiError, Hub};
use crate::model::*;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Ctx {
    pub hub: Arc<Hub>,
    pub info: Info,
}

type S = State<Arc<Ctx>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(ErrorBody {
                error_code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

type R<T> = Result<Json<T>, ApiError>;

fn parse<T: serde::de::DeserializeOwned>(b: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(b)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

pub(crate) fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/devices", get(list_devices))
        .route(
            "/devices/{id}",
            get(get_device).put(put_device).delete(delete_device),
        )
        .route("/devices/{id}/twin", get(get_twin).patch(patch_twin))
        .route("/devices/{id}/methods", post(invoke_method))
        .route("/devices/{id}/messages", post(send_c2d))
        .route("/events", get(events))
        .route("/connections", get(connections))
        .route("/certificates", get(list_cas))
        .route(
            "/certificates/{name}",
            get(get_ca).put(put_ca).delete(delete_ca),
        )
        .route(
            "/certificates/{name}/verification-code",
            post(verification_code),
        )
        .route("/certificates/{name}/verify", post(verify_ca))
        .route("/enrollment-groups", get(list_groups))
        .route(
            "/enrollment-groups/{id}",
            get(get_group).put(put_group).delete(delete_group),
        )
        .route("/enrollments", get(list_enrollments))
        .route(
            "/enrollments/{id}",
            get(get_enrollment)
                .put(put_enrollment)
                .delete(delete_enrollment),
        )
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/{id}", axum::routing::delete(clear_fault))
        .route("/files/{*path}", get(get_file).put(put_file))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(ctx)
}

async fn info(State(c): S) -> Json<Info> {
    Json(c.info.clone())
}

async fn list_devices(State(c): S) -> Json<Vec<Device>> {
    Json(c.hub.list_devices())
}
async fn get_device(State(c): S, Path(id): Path<String>) -> R<Device> {
    c.hub.get_device(&id).map(Json)
}
async fn put_device(State(c): S, Path(id): Path<String>, b: Bytes) -> R<Device> {
    let spec: DeviceSpec = parse(&b)?;
    c.hub.put_device(&id, spec).map(Json)
}
async fn delete_device(State(c): S, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    c.hub.delete_device(&id).map(|_| StatusCode::NO_CONTENT)
}
async fn get_twin(State(c): S, Path(id): Path<String>) -> R<Twin> {
    c.hub.get_twin(&id).map(Json)
}
async fn patch_twin(State(c): S, Path(id): Path<String>, b: Bytes) -> R<Twin> {
    let p: TwinPatch = parse(&b)?;
    c.hub.patch_twin(&id, p).map(Json)
}
async fn invoke_method(State(c): S, Path(id): Path<String>, b: Bytes) -> R<MethodResponse> {
    let req: MethodRequest = parse(&b)?;
    c.hub.invoke_method(&id, req).await.map(Json)
}
async fn send_c2d(State(c): S, Path(id): Path<String>, b: Bytes) -> R<C2dSent> {
    let m: C2dMessage = parse(&b)?;
    c.hub.send_c2d(&id, m).map(Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsQuery {
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn events(State(c): S, Query(q): Query<EventsQuery>) -> Json<EventPage> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(0).min(60_000));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rx = c.hub.subscribe_events();
    // `since` absent: only what comes after now.
    let mut since = q.since.unwrap_or_else(|| c.hub.last_event_seq());
    loop {
        rx.borrow_and_update();
        let page = c.hub.events_since(since, q.device_id.as_deref(), limit);
        if !page.events.is_empty() || tokio::time::Instant::now() >= deadline {
            return Json(page);
        }
        since = page.next;
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return Json(c.hub.events_since(since, q.device_id.as_deref(), limit));
        }
    }
}

async fn connections(State(c): S) -> Json<Vec<ConnectionInfo>> {
    Json(c.hub.connections())
}

async fn list_cas(State(c): S) -> Json<Vec<CaCertificate>> {
    Json(c.hub.list_cas())
}
async fn get_ca(State(c): S, Path(n): Path<String>) -> R<CaCertificate> {
    c.hub.get_ca(&n).map(Json)
}
async fn put_ca(State(c): S, Path(n): Path<String>, b: Bytes) -> R<CaCertificate> {
    let up: CaUpload = parse(&b)?;
    c.hub.put_ca(&n, up).map(Json)
}
async fn delete_ca(State(c): S, Path(n): Path<String>) -> Result<StatusCode, ApiError> {
    c.hub.delete_ca(&n).map(|_| StatusCode::NO_CONTENT)
}
async fn verification_code(State(c): S, Path(n): Path<String>) -> R<CaCertificate> {
    c.hub.ca_verification_code(&n).map(Json)
}
async fn verify_ca(State(c): S, Path(n): Path<String>, b: Bytes) -> R<CaCertificate> {
    let p: CaProof = parse(&b)?;
    c.hub.verify_ca(&n, p).map(Json)
}

async fn list_groups(State(c): S) -> Json<Vec<EnrollmentGroup>> {
    Json(c.hub.list_groups())
}
async fn get_group(State(c): S, Path(id): Path<String>) -> R<EnrollmentGroup> {
    c.hub.get_group(&id).map(Json)
}
async fn put_group(State(c): S, Path(id): Path<String>, b: Bytes) -> R<EnrollmentGroup> {
    let g: EnrollmentGroup = parse(&b)?;
    c.hub.put_group(&id, g).map(Json)
}
async fn delete_group(State(c): S, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    c.hub.delete_group(&id).map(|_| StatusCode::NO_CONTENT)
}
async fn list_enrollments(State(c): S) -> Json<Vec<IndividualEnrollment>> {
    Json(c.hub.list_enrollments())
}
async fn get_enrollment(State(c): S, Path(id): Path<String>) -> R<IndividualEnrollment> {
    c.hub.get_enrollment(&id).map(Json)
}
async fn put_enrollment(State(c): S, Path(id): Path<String>, b: Bytes) -> R<IndividualEnrollment> {
    let e: IndividualEnrollment = parse(&b)?;
    c.hub.put_enrollment(&id, e).map(Json)
}
async fn delete_enrollment(State(c): S, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    c.hub.delete_enrollment(&id).map(|_| StatusCode::NO_CONTENT)
}

async fn list_faults(State(c): S) -> Json<Vec<Fault>> {
    Json(c.hub.list_faults())
}
async fn add_fault(State(c): S, b: Bytes) -> R<FaultAdded> {
    let f: Fault = parse(&b)?;
    c.hub.add_fault(f).map(Json)
}
async fn clear_faults(State(c): S) -> Json<serde_json::Value> {
    Json(serde_json::json!({"cleared": c.hub.clear_faults(None)}))
}
async fn clear_fault(State(c): S, Path(id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"cleared": c.hub.clear_faults(Some(id))}))
}

fn file_path(c: &Ctx, path: &str) -> Result<std::path::PathBuf, ApiError> {
    let mut p = c.hub.store.dir.join("files");
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\') {
            return Err(ApiError::bad_request("invalid file path"));
        }
        p.push(seg);
    }
    Ok(p)
}

/// The firmware file server (for FOTA): `GET /files/{path}` with optional single `Range`.
async fn get_file(State(c): S, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let p = match file_path(&c, &path) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(data) = std::fs::read(&p) else {
        return ApiError::not_found(format!("no file \"{path}\"")).into_response();
    };
    let len = data.len();
    if let Some(range) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
    {
        let (a, b) = range.split_once('-').unwrap_or((range, ""));
        let (start, end) = match (a.parse::<usize>(), b.parse::<usize>()) {
            (Ok(s), Ok(e)) => (s, e.min(len.saturating_sub(1))),
            (Ok(s), Err(_)) => (s, len.saturating_sub(1)),
            (Err(_), Ok(n)) => (len.saturating_sub(n), len.saturating_sub(1)),
            _ => (1, 0),
        };
        if start >= len || start > end {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
        tracing::info!("file {path}: bytes {start}-{end}/{len}");
        return (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            ],
            data[start..=end].to_vec(),
        )
            .into_response();
    }
    tracing::info!("file {path}: {len} B");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        data,
    )
        .into_response()
}

async fn put_file(State(c): S, Path(path): Path<String>, body: Bytes) -> Response {
    let p = match file_path(&c, &path) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match crate::store::write_atomic(&p, &body) {
        Ok(()) => {
            tracing::info!("file {path} stored ({} B)", body.len());
            (
                StatusCode::CREATED,
                Json(serde_json::json!({"path": path, "size": body.len()})),
            )
                .into_response()
        }
        Err(e) => ApiError::new(500, 500001, e.to_string()).into_response(),
    }
}
