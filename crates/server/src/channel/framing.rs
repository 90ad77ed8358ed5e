//! The order of a publish's frames (method, content header, body frames), checked on every
//! channel as RabbitMQ's reader does it: before the channel's own state is looked at, so on a
//! channel we are closing too. A closing channel drops what it is sent, but a body frame
//! without a header, or a method in the middle of a publish's content, is still a connection
//! error (505).

use warren_core::AmqpError;

use super::{Channel, BASIC_CLASS};

/// On a closing channel, what is still to come of a publish: its frames are counted and
/// dropped, never buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Discard {
    Header,
    Body { left: u64 },
}

/// 505 for a method frame while a publish's content is expected.
pub fn method_in_content(expects_body: bool) -> AmqpError {
    AmqpError::unexpected_frame(if expects_body {
        "expected content body, got non content body frame instead"
    } else {
        "expected content header for class 60, got non content header frame instead"
    })
}

/// 505 for a content frame where a method was expected (RabbitMQ reports no method with it).
pub fn content_without_publish() -> AmqpError {
    AmqpError::unexpected_frame("expected method frame, got non method frame instead")
}

impl Channel {
    /// Is a publish waiting for its content header or body frames?
    pub fn expects_content(&self) -> bool {
        self.pending.is_some() || self.discard.is_some()
    }

    /// Is a publish past its content header, waiting for body frames?
    pub fn expects_body(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.header.is_some())
            || matches!(self.discard, Some(Discard::Body { .. }))
    }

    /// The channel is closing: the content still to come of the publish in progress, if any,
    /// will be dropped.
    pub(super) fn discard_pending(&mut self) {
        self.discard = self.pending.take().map(|p| match p.header {
            None => Discard::Header,
            Some(h) => Discard::Body {
                left: h.body_size.saturating_sub(p.received),
            },
        });
    }

    /// A basic.publish on a closing channel: dropped, and so will its content be.
    pub fn discard_publish(&mut self) {
        self.discard = Some(Discard::Header);
    }

    /// A content header on a closing channel (one is expected: see [`Self::expects_content`]).
    pub fn discard_header(&mut self, class_id: u16, body_size: u64) -> Result<(), AmqpError> {
        if self.discard != Some(Discard::Header) {
            return Err(AmqpError::unexpected_frame(
                "expected content body, got non content body frame instead",
            ));
        }
        if class_id != BASIC_CLASS {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {BASIC_CLASS}, got class {class_id} instead"
            )));
        }
        self.discard = (body_size > 0).then_some(Discard::Body { left: body_size });
        Ok(())
    }

    /// A body frame on a closing channel (content is expected).
    pub fn discard_body(&mut self, len: u64) -> Result<(), AmqpError> {
        let Some(Discard::Body { left }) = self.discard else {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {BASIC_CLASS}, got non content header frame instead"
            )));
        };
        if len > left {
            return Err(AmqpError::frame_error(
                "body frames carry more bytes than their content header announced",
            ));
        }
        self.discard = (len < left).then_some(Discard::Body { left: left - len });
        Ok(())
    }
}
