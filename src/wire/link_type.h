/*
 * What one side of a data-plane link says it is, in link negotiation (the
 * LinkConnectionType of the wire schema, as our own type so that the
 * layers above the codec need not name generated protobuf identifiers).
 */
#ifndef SLIM_WIRE_LINK_TYPE_H
#define SLIM_WIRE_LINK_TYPE_H

/* The longest link id a link negotiation may carry (a UUID takes 36). */
#define SLIM_LINK_ID_MAX 64

typedef enum slim_link_type {
    SLIM_LINK_TYPE_UNSET = 0, /* the dialling program decides (sent as REMOTE) */
    SLIM_LINK_TYPE_EDGE,      /* an application dialling its node */
    SLIM_LINK_TYPE_PEER,      /* a node of the same mesh: subscriptions flow both ways */
    SLIM_LINK_TYPE_REMOTE,    /* another node */
} slim_link_type;

#endif
