//! Faults a fake source can be asked to produce on its next request: a 429 with
//! `Retry-After`, a 500, or a body cut in half. Wrap a fake's router with
//! [`FaultLayer::wrap`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// One fault, used once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `429 Too Many Requests` with `Retry-After: 1`.
    RateLimited,
    /// `500 Internal Server Error`.
    ServerError,
    /// The real response with its body cut in half.
    Truncated,
}

/// Faults waiting for the next requests.
#[derive(Debug, Clone, Default)]
pub struct FaultLayer {
    queue: Arc<Mutex<VecDeque<Fault>>>,
}

impl FaultLayer {
    /// Queues a fault for the next request.
    pub fn inject(&self, fault: Fault) {
        self.queue.lock().unwrap().push_back(fault);
    }

    /// Faults not yet served.
    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    /// The router with faults applied before its handlers.
    pub fn wrap(&self, router: axum::Router) -> axum::Router {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), apply))
    }
}

async fn apply(State(layer): State<FaultLayer>, request: Request, next: Next) -> Response {
    let fault = layer.queue.lock().unwrap().pop_front();
    match fault {
        None => next.run(request).await,
        Some(Fault::RateLimited) => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "{\"error\":\"rate limit exceeded\"}")
                .into_response()
        }
        Some(Fault::ServerError) => (StatusCode::INTERNAL_SERVER_ERROR, "{\"error\":\"internal\"}").into_response(),
        Some(Fault::Truncated) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
        }
    }
}
