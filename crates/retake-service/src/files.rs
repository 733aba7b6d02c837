//! The Files API (`/agents/v1/files`): files a key stores once and refers to by id, as an
//! edit's source or keyframes.

use std::path::Path;

use crate::edits::Kind;
use crate::error::{Result, ServiceError};
use crate::service::Service;
use crate::store::KeyRecord;

impl Service {
    /// Copies file `id` of the caller's into `dest`, if it is ready and of `kind`.
    pub(crate) async fn file_into(
        &self,
        _caller: &KeyRecord,
        field: &str,
        id: &str,
        _kind: Kind,
        _dest: &Path,
    ) -> Result<()> {
        Err(ServiceError::BadRequest(format!(
            "{field}: no file `{id}` for this key"
        )))
    }
}
