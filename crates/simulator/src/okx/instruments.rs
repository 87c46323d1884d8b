//! OKX `GET /api/v5/public/instruments?instType=…` (protocols.md §5.5): the simulated spot
//! markets as `SPOT` instruments in the venue's item shape (every field a string); other types
//! list nothing (the simulator serves spot only); a missing or unknown `instType` is code
//! `51000`.

use tickrec_model::Venue;

use crate::format::push_stripped;
use crate::http::{HttpRequest, HttpResponse};
use crate::server::SimCore;
use crate::tape::QTY_SCALE;

/// The instruments reply, when `path` (after `/okx`) asks for it.
pub(crate) fn handle(core: &SimCore, path: &str, req: &HttpRequest) -> Option<HttpResponse> {
    if path != "/api/v5/public/instruments" {
        return None;
    }
    let kind = req.param("instType").unwrap_or("");
    if !["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"].contains(&kind) {
        return Some(HttpResponse::json(
            200,
            r#"{"code":"51000","msg":"Parameter instType error","data":[]}"#.into(),
        ));
    }
    let data: Vec<serde_json::Value> = core
        .markets
        .iter()
        .filter(|m| m.spec.venue == Venue::Okx && kind == "SPOT")
        .filter(|m| req.param("instId").is_none_or(|i| i == m.spec.native))
        .map(|m| {
            let p = &m.spec.profile;
            let (base, quote) = m
                .spec
                .native
                .split_once('-')
                .unwrap_or((&m.spec.native, ""));
            let text = |v: u128, scale: u8| {
                let mut s = String::new();
                push_stripped(&mut s, v, scale);
                s
            };
            serde_json::json!({
                "alias": "", "baseCcy": base, "category": "1", "ctMult": "", "ctType": "",
                "ctVal": "", "ctValCcy": "", "expTime": "", "instFamily": "",
                "instId": m.spec.native, "instType": "SPOT", "lever": "10",
                "listTime": "1548133413000", "lotSz": text(u128::from(p.qty_step), QTY_SCALE),
                "maxIcebergSz": "9999999999", "maxLmtSz": "9999999999", "maxMktSz": "1000000",
                "maxStopSz": "1000000", "maxTriggerSz": "9999999999", "maxTwapSz": "9999999999",
                "minSz": text(u128::from(p.qty_step), QTY_SCALE), "optType": "",
                "quoteCcy": quote, "settleCcy": "", "state": "live", "stk": "",
                "tickSz": text(1, p.tick_exp), "uly": "",
            })
        })
        .collect();
    let body = serde_json::json!({"code": "0", "msg": "", "data": data});
    Some(HttpResponse::json(200, body.to_string()))
}
