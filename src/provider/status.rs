//! The registration state of this process: shown by `/readyz` and the
//! `txhook_registration_state` gauge.

use std::sync::{Arc, RwLock};

use serde::Serialize;

/// Where registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// No provider configured.
    NotConfigured,
    /// Not attempted yet (or waiting for another replica that is registering).
    Pending,
    /// An attempt failed in a way worth retrying; another follows.
    Retrying,
    Registered,
    /// The provider refused (4xx other than 408/429): not retried until the configuration
    /// changes.
    Rejected,
}

impl RegistrationState {
    /// The gauge's value: 1 registered, 0 on the way, -1 refused.
    fn gauge(self) -> f64 {
        match self {
            Self::Registered => 1.0,
            Self::NotConfigured | Self::Pending | Self::Retrying => 0.0,
            Self::Rejected => -1.0,
        }
    }

    /// The name in APIs and the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Registered => "registered",
            Self::Rejected => "rejected",
        }
    }
}

/// The state and what the provider last said (without secrets).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationStatus {
    pub state: RegistrationState,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// Shared between the registration task and the HTTP handlers.
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<RwLock<RegistrationStatus>>);

impl Default for StatusHandle {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(RegistrationStatus {
            state: RegistrationState::NotConfigured,
            attempts: 0,
            http_status: None,
            answer: None,
        })))
    }
}

impl StatusHandle {
    pub fn get(&self) -> RegistrationStatus {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, status: RegistrationStatus) {
        metrics::gauge!("txhook_registration_state").set(status.state.gauge());
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// Changes the state only, keeping the rest.
    pub fn set_state(&self, state: RegistrationState) {
        let mut s = self.get();
        s.state = state;
        self.set(s);
    }
}
