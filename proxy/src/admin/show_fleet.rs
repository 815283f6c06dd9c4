//! `SHOW FLEET`: the instances registered in etcd, which one is the
//! controller, when each last renewed its registration, the topology
//! generation each applied and what each sees of each shard's primary.

use super::result::{text, Kind, ResultSet};
use crate::context::Context;

/// `SHOW FLEET`.
pub fn fleet(ctx: &Context) -> ResultSet {
    let mut r = ResultSet::new(&[
        ("instance", Kind::Text),
        ("listen", Kind::Text),
        ("role", Kind::Text),
        ("this", Kind::Text),
        ("coordination", Kind::Text),
        ("heartbeat_age_seconds", Kind::Text),
        ("uptime_seconds", Kind::Text),
        ("version", Kind::Text),
        ("generations", Kind::Text),
        ("views", Kind::Text),
    ]);
    let Some(fleet) = ctx.control.fleet.as_ref() else {
        r.row(vec![
            text("(this instance)"),
            text(&ctx.config.proxy.listen),
            text("standalone"),
            text("yes"),
            text("off (no [coordination])"),
            None,
            text(format!("{:.0}", ctx.started.elapsed().as_secs_f64())),
            text(env!("CARGO_PKG_VERSION")),
            None,
            None,
        ]);
        return r;
    };
    let status = fleet.status();
    let mut members = status.members.clone();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    if !members.iter().any(|m| m.name == status.name) {
        // Not registered (etcd unreachable): still show this instance.
        r.row(vec![
            text(&status.name),
            text(&fleet.settings.listen),
            text("unregistered"),
            text("yes"),
            text(coordination(&status)),
            None,
            None,
            text(env!("CARGO_PKG_VERSION")),
            None,
            None,
        ]);
    }
    for m in members {
        let this = m.name == status.name;
        r.row(vec![
            text(&m.name),
            text(&m.listen),
            text(if m.controller { "controller" } else { "member" }),
            text(if this { "yes" } else { "no" }),
            if this {
                text(coordination(&status))
            } else {
                None
            },
            text(format!("{:.1}", m.heartbeat_age.max(0.0))),
            text(format!("{:.0}", m.uptime.max(0.0))),
            text(&m.version),
            text(
                m.acks
                    .iter()
                    .map(|(k, g)| format!("{k}:{g}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            text(
                m.views
                    .iter()
                    .map(|(k, v)| format!("{k}:{}@{}", if v.ok { "up" } else { "down" }, v.primary))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ]);
    }
    r
}

fn coordination(status: &shardwire_control::fleet::FleetStatus) -> String {
    let contact = status
        .last_contact
        .map_or("never".to_owned(), |s| format!("{s:.1}s ago"));
    if status.coordination_up {
        format!("up (etcd answered {contact})")
    } else if status.failsafe {
        format!("LOST (etcd answered {contact}); failsafe: writes only while synchronous standbys stream")
    } else {
        format!("LOST (etcd answered {contact}); writes refused")
    }
}
