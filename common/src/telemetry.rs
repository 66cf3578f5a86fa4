//! Tracing setup: human-readable or JSON lines on stderr, filtered by `RUST_LOG` or `--log-level`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{Error, Result};

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default on a terminal).
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging flags shared by every subcommand.
#[derive(Clone, Debug, clap::Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, global = true, env = "ARO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter in `RUST_LOG` syntax (e.g. `info,kube=warn`); `RUST_LOG` wins when set.
    #[arg(long, global = true, env = "ARO_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

/// Install the global tracing subscriber. `RUST_LOG` overrides `args.log_level`.
pub fn init(args: &LogArgs) -> Result<()> {
    let filter_text = std::env::var("RUST_LOG").unwrap_or_else(|_| args.log_level.clone());
    let filter = parse_filter(&filter_text)?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match args.log_format {
        LogFormat::Human => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| Error::TracingInit(e.to_string()))
}

/// Parse a filter in `RUST_LOG` syntax.
pub fn parse_filter(text: &str) -> Result<EnvFilter> {
    EnvFilter::try_new(text).map_err(|source| Error::LogFilter {
        filter: text.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_are_reported() {
        assert!(parse_filter("info,kube=warn").is_ok());
        let err = parse_filter("info,[").unwrap_err();
        assert!(matches!(err, Error::LogFilter { .. }), "{err}");
        assert!(err.to_string().contains("info,["));
    }
}
