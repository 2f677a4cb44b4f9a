//! One request and its answer, kept by a connection from one request to
//! the next.

use ::http::{Request, Response, StatusCode, Version};

/// One request and its answer, as the service sees them. A connection keeps
/// one between requests and clears it, so the header maps and the body
/// buffers keep their capacity from one request to the next.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) response: Response<Vec<u8>>,
}

impl Exchange {
    pub(crate) fn new() -> Exchange {
        Exchange {
            request: Request::new(Vec::new()),
            response: Response::new(Vec::new()),
        }
    }

    /// Ready for the next request: empty, capacities kept.
    pub(crate) fn clear(&mut self) {
        self.request.headers_mut().clear();
        self.request.body_mut().clear();
        self.request.extensions_mut().clear();
        *self.response.status_mut() = StatusCode::OK;
        *self.response.version_mut() = Version::HTTP_11;
        self.response.headers_mut().clear();
        self.response.body_mut().clear();
        self.response.extensions_mut().clear();
    }
}
