//! `/records`: the record search, with the filters of `wildnet query`, a
//! page at a time.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use wildnet_proto::v1 as pb;

use super::{Viewer, badges, error, off_runtime, record_link, shell, summary, when};
use crate::http::Web;
use crate::node::NodeError;

/// The search form's fields (all optional; dates as `YYYY-MM-DD`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(in crate::http) struct Filters {
    kind: String,
    species: String,
    appendix: String,
    country: String,
    platform: String,
    seller: String,
    selector: String,
    author: String,
    tag: String,
    text: String,
    code: String,
    since: String,
    until: String,
    history: Option<String>,
    page: String,
}

/// Unix ms of the start of a `YYYY-MM-DD` day (UTC); 0 for none.
fn day_ms(field: &str, text: &str) -> Result<i64, NodeError> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| NodeError::Invalid(format!("{field} = {text:?} is not a date (YYYY-MM-DD)")))
}

impl Filters {
    fn request(&self) -> Result<pb::QueryRequest, NodeError> {
        Ok(pb::QueryRequest {
            kind: self.kind.trim().to_string(),
            species: self.species.trim().to_string(),
            appendix: self.appendix.trim().to_string(),
            country: self.country.trim().to_string(),
            platform: self.platform.trim().to_string(),
            seller: self.seller.trim().to_string(),
            selector: self.selector.trim().to_string(),
            author: self.author.trim().to_string(),
            tag: self.tag.trim().to_string(),
            text: self.text.trim().to_string(),
            code: self.code.trim().to_string(),
            since: day_ms("since", &self.since)?,
            until: day_ms("until", &self.until)?,
            history: self.history.is_some(),
            page_token: self.page.clone(),
            limit: 50,
            verify: false,
        })
    }

    /// The query string of these filters on page `token`.
    fn link(&self, token: &str) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            if !v.is_empty() {
                pairs.append_pair(k, v);
            }
        }
        if self.history.is_some() {
            pairs.append_pair("history", "on");
        }
        pairs.append_pair("page", token);
        format!("/records?{}", pairs.finish())
    }

    fn pairs(&self) -> [(&'static str, &str); 13] {
        [
            ("kind", &self.kind),
            ("species", &self.species),
            ("appendix", &self.appendix),
            ("country", &self.country),
            ("platform", &self.platform),
            ("seller", &self.seller),
            ("selector", &self.selector),
            ("author", &self.author),
            ("tag", &self.tag),
            ("text", &self.text),
            ("code", &self.code),
            ("since", &self.since),
            ("until", &self.until),
        ]
    }
}

pub(super) async fn page(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Query(f): Query<Filters>,
) -> Response {
    let req = match f.request() {
        Ok(r) => r,
        Err(e) => return error(&web, e),
    };
    let asked = req.clone();
    let found = match off_runtime(&web, move |w| w.node.query(&asked)).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    // In the Agency API's audit form of a query.
    viewer.audit(
        &web,
        format!(
            "records {}",
            crate::api::read::describe_query(&req, found.records.len())
        ),
    );
    let content = html! {
        (form(&f))
        @if found.records.is_empty() {
            p.empty { "No record matches." }
        } @else {
            table {
                tr { th { "Record" } th { "Kind" } th { "Author" } th { "Created" } th { "Handling" } th { "About" } th { "From" } }
                @for s in &found.records {
                    @let b = s.record.body();
                    tr {
                        td { (record_link(&s.record.id().to_hex())) }
                        td { (s.record.kind()) @if s.superseded_by.is_some() { " (superseded)" } }
                        td { (b.author) }
                        td { (when(b.created_at)) }
                        td { (badges(b.handling.as_ref())) }
                        td { (summary(b)) }
                        td { @if s.received_from.is_empty() { "published here" } @else { (s.received_from) } }
                    }
                }
            }
            @if let Some(next) = &found.next {
                p { a href=(f.link(next)) { "Next page →" } }
            }
        }
    };
    shell(&web, "Records", content)
}

fn form(f: &Filters) -> Markup {
    let field = |name: &str, label: &str, value: &str, hint: &str| {
        html! {
            label { (label) input type="text" name=(name) value=(value) placeholder=(hint); }
        }
    };
    html! {
        form.search method="get" action="/records" {
            (field("kind", "Kind", &f.kind, "listing, seizure, entity, note…"))
            (field("species", "Species", &f.species, "Manis temminckii"))
            (field("appendix", "CITES appendix", &f.appendix, "I, II, III"))
            (field("country", "Country", &f.country, "KE"))
            (field("platform", "Platform", &f.platform, "facebook"))
            (field("seller", "Seller", &f.seller, "handle"))
            (field("selector", "Selector", &f.selector, "phone:+254712345678"))
            (field("author", "Author", &f.author, "KE-KWS"))
            (field("tag", "Tag", &f.tag, ""))
            (field("text", "Words", &f.text, "all must appear"))
            (field("code", "Handling code", &f.code, "H0…H3"))
            label { "Since" input type="date" name="since" value=(f.since); }
            label { "Until" input type="date" name="until" value=(f.until); }
            label { "Older versions" input type="checkbox" name="history" checked[f.history.is_some()]; }
            label { " " button type="submit" { "Search" } }
        }
    }
}
