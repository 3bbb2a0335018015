//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` header that
//! ties a console page, the API calls it makes and what a tracing backend collects into one
//! trace. Both components read it here, so both log the same `trace_id` for one page.

/// One hop of a trace: the trace it belongs to and the span that made the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero: the caller's span.
    pub parent_id: String,
    pub sampled: bool,
}

impl TraceParent {
    /// Reads a `traceparent` value as the specification says: version `00` exactly as
    /// `00-TRACE-PARENT-FLAGS`, a later version by its first four fields; anything else,
    /// including all-zero ids and version `ff`, is no trace context at all.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let version = header.get(..2).filter(|v| is_hex(v))?;
        if version == "ff" || (version == "00" && header.len() != 55) {
            return None;
        }
        let mut fields = header.get(..55)?.split('-');
        let (_, trace_id, parent_id, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if header.len() > 55 && !header[55..].starts_with('-') {
            return None;
        }
        let valid =
            |id: &str, len: usize| id.len() == len && is_hex(id) && id.bytes().any(|b| b != b'0');
        if !valid(trace_id, 32) || !valid(parent_id, 16) || flags.len() != 2 || !is_hex(flags) {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceParent {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            sampled: flags & 1 == 1,
        })
    }

    /// This hop as a `traceparent` value.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.parent_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

/// The trace a request belongs to: the caller's when it sent a valid `traceparent`, else a
/// new one, FRESH (32 random hex digits from the host).
pub fn trace_id_of(traceparent: Option<&str>, fresh: &str) -> String {
    traceparent
        .and_then(TraceParent::parse)
        .map_or_else(|| fresh.to_owned(), |parent| parent.trace_id)
}

/// This request's place in a trace: the caller's trace when it sent a valid `traceparent` (and
/// its sampling decision), else a new one (FRESH_TRACE_ID), with SPAN_ID as this component's own
/// span, which the calls it makes name as their parent.
pub fn continue_or_start(
    incoming: Option<&str>,
    fresh_trace_id: String,
    span_id: String,
) -> TraceParent {
    let caller = incoming.and_then(TraceParent::parse);
    TraceParent {
        sampled: caller.as_ref().is_none_or(|c| c.sampled),
        trace_id: caller.map_or(fresh_trace_id, |c| c.trace_id),
        parent_id: span_id,
    }
}

/// Lowercase hex only: the specification refuses upper case.
fn is_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_the_specifications_example() {
        let parent = TraceParent::parse(VALID).unwrap();
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.parent_id, "00f067aa0ba902b7");
        assert!(parent.sampled);
        assert_eq!(parent.header(), VALID);
    }

    #[test]
    fn refuses_what_the_specification_refuses() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next";
        let parent = TraceParent::parse(later).unwrap();
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!parent.sampled);
    }

    #[test]
    fn a_request_without_a_usable_trace_starts_one() {
        assert_eq!(
            trace_id_of(Some(VALID), "f".repeat(32).as_str()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(trace_id_of(Some("garbage"), "abc"), "abc");
        assert_eq!(trace_id_of(None, "abc"), "abc");
    }
}
