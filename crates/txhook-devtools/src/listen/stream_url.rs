//! The stream's URL: under a txhook's origin (or the stream's own URL), with `after` and the
//! filters of the command line as its query.

use url::Url;

use crate::args::ListenArgs;

/// The stream URL under `base` (a txhook's origin, or the stream URL itself), with `after`
/// and the filters as the query.
pub(super) fn stream_url(base: &Url, args: &ListenArgs) -> Url {
    let mut url = base.clone();
    if !url.path().ends_with("/api/v1/events/stream") {
        let path = format!("{}/api/v1/events/stream", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    let after = args.after.map(|n| n.to_string());
    let pairs: Vec<(&str, &str)> = [
        ("after", after.as_deref()),
        ("source", args.source.as_deref()),
        ("type", args.types.as_deref()),
        ("state", args.states.as_deref()),
        ("event", args.events.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    url.set_query(None);
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// `listen` on a command line of its own.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ListenArgs,
    }

    fn args(argv: &[&str]) -> ListenArgs {
        Cli::try_parse_from([&["listen"], argv].concat())
            .unwrap()
            .args
    }

    #[test]
    fn the_stream_is_found_under_the_origin_with_after_and_the_filters() {
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            stream_url(&local, &args(&[])).as_str(),
            "http://127.0.0.1:8080/api/v1/events/stream"
        );
        let a = args(&[
            "--after=12",
            "--source=callback",
            "--type=PAYMENT,DEPOSIT",
            "--state=SUCCESS",
            "--event=transaction.*",
        ]);
        assert_eq!(
            stream_url(&local, &a).as_str(),
            "http://127.0.0.1:8080/api/v1/events/stream?after=12&source=callback\
             &type=PAYMENT%2CDEPOSIT&state=SUCCESS&event=transaction.*"
        );
        // Behind a prefix, or the stream's own URL (whose query is replaced).
        let prefixed = Url::parse("https://hub.example/txhook/").unwrap();
        assert_eq!(
            stream_url(&prefixed, &args(&[])).as_str(),
            "https://hub.example/txhook/api/v1/events/stream"
        );
        let full = Url::parse("http://h/api/v1/events/stream?after=3").unwrap();
        assert_eq!(
            stream_url(&full, &args(&["--type=DEPOSIT"])).as_str(),
            "http://h/api/v1/events/stream?type=DEPOSIT"
        );
    }

    #[test]
    fn a_negative_after_or_an_unknown_source_is_refused() {
        let parse = |argv: &[&str]| Cli::try_parse_from([&["listen"], argv].concat());
        assert!(parse(&["--after=-1"]).is_err());
        assert!(parse(&["--source=kafka"]).is_err());
    }
}
