"""The controller half of the user's document, as a program: create a
channel moderated by an application, add participants to it, and set a
route between two nodes, through the controller's northbound API
(slim-control-plane) with grpcio.

    python3 controller_group.py --controller 127.0.0.1:50051 \
        --moderator agntcy/namespace/moderator \
        --participant agntcy/namespace/participant_1 \
        [--route-node slim/0 --route-endpoint http://127.0.0.1:46367 \
         --route-name agntcy/namespace/group_channel] [--delete-after 10]

The moderator and the participants are applications connected to nodes
that registered with the controller; the moderator learns of the new group
from listen_for_session() (see README.md, "Groups through the controller").
The controller's Python modules come with slim_bindings (pip install) or
from the build tree (<build>/gen/python on PYTHONPATH).
"""
import sys
import time

import click
import grpc
from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc
from grpc_api import grpc_api_pb2


def fail(what, err):
    sys.exit(f"{what} failed: {err.code().name}: {err.details()}")


@click.command(context_settings={"auto_envvar_prefix": "SLIM"})
@click.option("--controller", default="127.0.0.1:50051", show_default=True,
              help="host:port of the controller's northbound API")
@click.option("--moderator", required=True, help="the moderator application, org/ns/app[/id]")
@click.option("--participant", "participants", multiple=True,
              help="an application to add, org/ns/app (repeatable)")
@click.option("--route-node", help="a node to give a route (CreateConnection + CreateSubscription)")
@click.option("--route-endpoint", help="the endpoint that node should connect to")
@click.option("--route-name", help="the name (org/ns/app) to route through that connection")
@click.option("--delete-after", type=float, default=None,
              help="delete the channel after this many seconds")
@click.option("--timeout", type=float, default=90.0, show_default=True,
              help="seconds to wait for each call")
def main(controller, moderator, participants, route_node, route_endpoint, route_name,
         delete_after, timeout):
    channel = grpc.insecure_channel(controller)
    client = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
    try:
        if route_node:
            if not route_endpoint or not route_name or len(route_name.split("/")) != 3:
                sys.exit("--route-node needs --route-endpoint and --route-name org/ns/app")
            conn = grpc_api_pb2.Connection(connection_id=route_endpoint,
                                           config_data='{"endpoint": "%s"}' % route_endpoint)
            try:
                r = client.CreateConnection(controlplane_pb2.CreateConnectionRequest(
                    connection=conn, node_id=route_node), timeout=timeout)
                c0, c1, c2 = route_name.split("/")
                s = client.CreateSubscription(controlplane_pb2.CreateSubscriptionRequest(
                    node_id=route_node, subscription=grpc_api_pb2.Subscription(
                        component_0=c0, component_1=c1, component_2=c2,
                        connection_id=r.connection_id)), timeout=timeout)
            except grpc.RpcError as e:
                fail("route", e)
            print(f"route: {route_node} reaches {route_name} through {r.connection_id} "
                  f"(subscription {s.subscription_id})")

        try:
            created = client.CreateChannel(controlplane_pb2.CreateChannelRequest(
                moderators=[moderator]), timeout=timeout)
        except grpc.RpcError as e:
            fail("CreateChannel", e)
        channel_id = created.channel_id
        print(f"channel {channel_id} created, moderated by {moderator}")

        for p in participants:
            try:
                ack = client.AddParticipant(controlplane_pb2.AddParticipantRequest(
                    channel_id=channel_id, participant_id=p), timeout=timeout)
            except grpc.RpcError as e:
                fail(f"AddParticipant {p}", e)
            print(f"add {p}: success={ack.success} {'; '.join(ack.messages)}")

        listed = client.ListParticipants(controlplane_pb2.ListParticipantsRequest(
            channel_id=channel_id), timeout=timeout)
        print(f"participants of {channel_id}: {', '.join(listed.participant_id) or 'none'}")

        if delete_after is not None:
            time.sleep(delete_after)
            try:
                ack = client.DeleteChannel(controlplane_pb2.DeleteChannelRequest(
                    channel_id=channel_id), timeout=timeout)
            except grpc.RpcError as e:
                fail("DeleteChannel", e)
            print(f"channel {channel_id} deleted: success={ack.success}")
    finally:
        channel.close()


if __name__ == "__main__":
    main()
