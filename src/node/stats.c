/*
 * Rendering the node's counters. Every series has HELP and TYPE lines;
 * names follow Prometheus conventions (prefix slim_, counters end in
 * _total, labels for the kind or the reason).
 */
#include "node/stats.h"
#include "core/log.h"
#include "node/metrics.h"

#include <stdarg.h>
#include <stdio.h>

#define MOD "node"

static const char *const kind_names[] = {"unknown", "subscribe", "unsubscribe",     "publish",
                                         "unknown", "link",      "subscription_ack"};

static void by_kind(slim_metrics_page *p, const char *name, const char *help, const uint64_t *v) {
    slim_metrics_head(p, name, "counter", help);
    uint64_t unknown = v[0] + v[4];
    for (int k = 1; k <= SLIM_MSG_SUBSCRIPTION_ACK; k++)
        if (k != 4)
            slim_metrics_emit(p, "%s{kind=\"%s\"} %llu\n", name, kind_names[k],
                              (unsigned long long)v[k]);
    slim_metrics_emit(p, "%s{kind=\"unknown\"} %llu\n", name, (unsigned long long)unknown);
}

slim_status slim_node_stats_prometheus(const slim_node_stats *s, const char *version,
                                       slim_buf *out) {
    slim_metrics_page p = {out, SLIM_OK};
    const slim_fwd_counters *c = &s->fwd;
    slim_metrics_head(&p, "slim_build_info", "gauge",
                      "Always 1; the version label says which node this is.");
    slim_metrics_emit(&p, "slim_build_info{version=\"%s\"} 1\n", version);

    by_kind(&p, "slim_messages_received_total",
            "Messages read from connections, by kind (malformed ones are dropped, not counted "
            "here).",
            c->in_by_kind);
    by_kind(&p, "slim_messages_sent_total", "Messages handed to connections, by kind.",
            c->out_by_kind);
    slim_metrics_one(&p, "slim_publish_matched_total", "counter",
                     "Publishes that had a destination.", c->publish_matched);

    slim_metrics_head(&p, "slim_messages_dropped_total", "counter", "Messages dropped, by reason.");
    const struct {
        const char *reason;
        uint64_t v;
    } drops[] = {
        {"ttl", c->drop_ttl},
        {"no_route", c->drop_no_route},
        {"queue_full", c->drop_queue_full},
        {"too_large", c->drop_too_large},
        {"malformed", c->drop_malformed},
        {"duplicate", c->drop_duplicate},
        {"header_mac", c->drop_header_mac},
        {"other", c->drop_other},
        {"unsent", s->unsent},
    };
    for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++)
        slim_metrics_emit(&p, "slim_messages_dropped_total{reason=\"%s\"} %llu\n", drops[i].reason,
                          (unsigned long long)drops[i].v);

    slim_metrics_head(
        &p, "slim_error_replies_total", "counter",
        "Error publishes for unroutable messages from applications: sent, or held back by the "
        "per-destination rate limit.");
    slim_metrics_emit(&p, "slim_error_replies_total{outcome=\"sent\"} %llu\n",
                      (unsigned long long)c->errors_sent);
    slim_metrics_emit(&p, "slim_error_replies_total{outcome=\"suppressed\"} %llu\n",
                      (unsigned long long)c->errors_suppressed);
    slim_metrics_one(
        &p, "slim_forward_to_ignored_total", "counter",
        "forward_to fields from gRPC peers, ignored (only applications in this process may "
        "choose the output connection).",
        c->forward_to_ignored);
    slim_metrics_one(&p, "slim_subscription_acks_sent_total", "counter", "SubscriptionAcks sent.",
                     c->acks_sent);

    slim_metrics_one(&p, "slim_subscriptions", "gauge",
                     "Subscriptions held: (name, connection) pairs.", s->router.subscriptions);
    slim_metrics_one(&p, "slim_subscribed_names", "gauge", "Distinct names subscribed.",
                     s->router.names);
    slim_metrics_one(&p, "slim_subscriptions_propagated_total", "counter",
                     "Subscriptions and unsubscriptions sent to other nodes.", c->subs_propagated);
    slim_metrics_one(&p, "slim_subscriptions_seen_total", "counter",
                     "Propagated subscriptions not relayed again (seen before).", c->subs_seen);
    slim_metrics_one(&p, "slim_subscriptions_replayed_total", "counter",
                     "Subscriptions sent to a node link when it came up.", c->subs_replayed);

    slim_metrics_head(
        &p, "slim_connections", "gauge",
        "Data-plane connections open, by kind (pending: link negotiation not finished).");
    static const char *const kinds[] = {"local", "edge", "node", "pending"};
    for (int k = 0; k < 4; k++)
        slim_metrics_emit(&p, "slim_connections{kind=\"%s\"} %zu\n", kinds[k], s->by_kind[k]);
    slim_metrics_one(&p, "slim_connections_accepted_total", "counter",
                     "HTTP/2 connections accepted on the data-plane listeners.",
                     s->server.accepted);
    slim_metrics_one(
        &p, "slim_connections_refused_total", "counter",
        "HTTP/2 connections closed at once because their listener had max_connections open.",
        s->server.refused);
    slim_metrics_one(&p, "slim_tls_handshakes_failed_total", "counter",
                     "Accepted connections that ended on a TLS error.", s->server.tls_failed);
    slim_metrics_one(
        &p, "slim_link_negotiations_failed_total", "counter",
        "Data-plane streams closed during link negotiation (no Link first, a bad Link, no "
        "header MAC key where one is required).",
        c->links_refused);
    slim_metrics_one(&p, "slim_links", "gauge", "Links this node dials (dataplane.clients).",
                     s->links);
    slim_metrics_one(&p, "slim_links_up", "gauge", "... of which have a stream now.", s->links_up);
    slim_metrics_one(&p, "slim_send_queue_bytes", "gauge",
                     "Bytes queued for sending, all connections.", s->queued_bytes);
    slim_metrics_one(&p, "slim_send_queue_bytes_max", "gauge",
                     "Bytes queued on the fullest connection.", s->queued_max);

    const slim_agent_stats *a = &s->control;
    slim_metrics_one(&p, "slim_control_streams", "gauge",
                     "Streams open on the node's own control endpoint (controller.servers).",
                     a->endpoint_streams);
    slim_metrics_one(&p, "slim_control_calls_total", "counter",
                     "Streams accepted on the node's own control endpoint.", a->endpoint_calls);
    slim_metrics_head(
        &p, "slim_control_calls_refused_total", "counter",
        "Calls to the node's own control endpoint refused for their token (no_token: none; "
        "bad_token: it did not verify with controller.token_verifier).");
    slim_metrics_emit(&p, "slim_control_calls_refused_total{reason=\"no_token\"} %llu\n",
                      (unsigned long long)a->endpoint_refused_no_token);
    slim_metrics_emit(&p, "slim_control_calls_refused_total{reason=\"bad_token\"} %llu\n",
                      (unsigned long long)a->endpoint_refused_bad_token);
    slim_metrics_one(
        &p, "slim_control_tls_handshakes_failed_total", "counter",
        "Connections to the node's own control endpoint that ended on a TLS error (a client "
        "certificate missing or of another CA, ...).",
        a->endpoint_tls_failed);
    return p.st;
}

void slim_node_stats_log(const slim_node_stats *s, slim_log_level level) {
    const slim_fwd_counters *c = &s->fwd;
    slim_log(level, MOD,
             "counters: connections %zu, subscriptions %zu, in %llu, out %llu, publish %llu "
             "(matched %llu), subscribe %llu, unsubscribe %llu, acks %llu, errors sent %llu "
             "(suppressed %llu); dropped: ttl %llu, no route %llu, queue full %llu, too large "
             "%llu, malformed %llu, duplicate %llu, header mac %llu, other %llu, unsent %llu; "
             "links refused %llu; subscriptions propagated %llu, seen %llu, replayed %llu; "
             "forward to ignored %llu; connections refused %llu; tls failed %llu",
             s->connections, s->router.subscriptions, (unsigned long long)c->messages_in,
             (unsigned long long)c->messages_out, (unsigned long long)c->publish_in,
             (unsigned long long)c->publish_matched, (unsigned long long)c->subscribe_in,
             (unsigned long long)c->unsubscribe_in, (unsigned long long)c->acks_sent,
             (unsigned long long)c->errors_sent, (unsigned long long)c->errors_suppressed,
             (unsigned long long)c->drop_ttl, (unsigned long long)c->drop_no_route,
             (unsigned long long)c->drop_queue_full, (unsigned long long)c->drop_too_large,
             (unsigned long long)c->drop_malformed, (unsigned long long)c->drop_duplicate,
             (unsigned long long)c->drop_header_mac, (unsigned long long)c->drop_other,
             (unsigned long long)s->unsent, (unsigned long long)c->links_refused,
             (unsigned long long)c->subs_propagated, (unsigned long long)c->subs_seen,
             (unsigned long long)c->subs_replayed, (unsigned long long)c->forward_to_ignored,
             (unsigned long long)s->server.refused, (unsigned long long)s->server.tls_failed);
}
