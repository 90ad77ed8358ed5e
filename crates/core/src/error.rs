//! The one error type every broker operation returns: an AMQP reply code and RabbitMQ-style text.
//!
//! Whether it closes the channel (soft) or the connection (hard) follows from the code, as in the
//! AMQP 0-9-1 spec: 3xx/4xx are channel errors except 320 and 402, 5xx are connection errors.

use std::fmt;

use warren_amqp::{reply_code as rc, reply_code_name};

/// An error that ends a channel or a connection, carrying the reply code and the reply text
/// ("NOT_FOUND - no queue 'x' in vhost '/'").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AmqpError {
    pub code: u16,
    pub text: String,
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AmqpError {
    /// Builds an error whose text is "NAME - detail", the way RabbitMQ words its replies.
    pub fn new(code: u16, detail: impl fmt::Display) -> Self {
        AmqpError {
            code,
            text: format!("{} - {}", reply_code_name(code), detail),
        }
    }

    /// Hard errors close the whole connection; soft ones only the channel.
    pub fn is_hard(&self) -> bool {
        !matches!(
            self.code,
            rc::CONTENT_TOO_LARGE
                | rc::NO_ROUTE
                | rc::NO_CONSUMERS
                | rc::ACCESS_REFUSED
                | rc::NOT_FOUND
                | rc::RESOURCE_LOCKED
                | rc::PRECONDITION_FAILED
        )
    }

    pub fn not_found(detail: impl fmt::Display) -> Self {
        Self::new(rc::NOT_FOUND, detail)
    }
    pub fn precondition_failed(detail: impl fmt::Display) -> Self {
        Self::new(rc::PRECONDITION_FAILED, detail)
    }
    pub fn access_refused(detail: impl fmt::Display) -> Self {
        Self::new(rc::ACCESS_REFUSED, detail)
    }
    pub fn resource_locked(detail: impl fmt::Display) -> Self {
        Self::new(rc::RESOURCE_LOCKED, detail)
    }
    pub fn not_allowed(detail: impl fmt::Display) -> Self {
        Self::new(rc::NOT_ALLOWED, detail)
    }
    pub fn command_invalid(detail: impl fmt::Display) -> Self {
        Self::new(rc::COMMAND_INVALID, detail)
    }
    pub fn channel_error(detail: impl fmt::Display) -> Self {
        Self::new(rc::CHANNEL_ERROR, detail)
    }
    pub fn unexpected_frame(detail: impl fmt::Display) -> Self {
        Self::new(rc::UNEXPECTED_FRAME, detail)
    }
    pub fn frame_error(detail: impl fmt::Display) -> Self {
        Self::new(rc::FRAME_ERROR, detail)
    }
    pub fn syntax_error(detail: impl fmt::Display) -> Self {
        Self::new(rc::SYNTAX_ERROR, detail)
    }
    pub fn not_implemented(detail: impl fmt::Display) -> Self {
        Self::new(rc::NOT_IMPLEMENTED, detail)
    }
    pub fn internal_error(detail: impl fmt::Display) -> Self {
        Self::new(rc::INTERNAL_ERROR, detail)
    }
}

pub type Result<T, E = AmqpError> = std::result::Result<T, E>;
