#!/usr/bin/env python3
"""Drive rp-frontend with the official Python SDK (azure-mgmt-redhatopenshift).

Run by rp-frontend/tests/python_sdk.rs against an in-process devcluster with a stand-in
controller. Exits 0 when the whole lifecycle behaved, non-zero (with the reason) otherwise.

    sdk_flow.py ENDPOINT --subscription S [--ca CA.pem --client-cert CLIENT.pem] \
        --kubeadmin-password P --admin-kubeconfig K [--no-referer]

Without --ca/--client-cert the endpoint is plain HTTP (a loopback frontend without client
authentication). With --no-referer the requests reach the frontend as they do without ARM's front
door: the polling URLs must then lead back to the frontend by themselves.
"""

import argparse
import base64
import sys
import time
import traceback

from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.redhatopenshift import AzureRedHatOpenShiftClient
from azure.mgmt.redhatopenshift import models


class StaticTokenCredential:
    """A TokenCredential with a fixed token: the frontend trusts ARM's client certificate, not
    the token, so any bearer token will do (the SDK refuses to run without one)."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("static-test-token", int(time.time()) + 3600)


class ArmReferer(SansIOHTTPPolicy):
    """ARM forwards the caller's URL as Referer; the RP builds its polling URLs from it."""

    def on_request(self, request):
        request.http_request.headers["Referer"] = request.http_request.url


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--subscription", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--client-cert")
    parser.add_argument("--no-referer", action="store_true")
    parser.add_argument("--kubeadmin-password", required=True)
    parser.add_argument("--admin-kubeconfig", required=True)
    parser.add_argument("--location", default="eastus")
    args = parser.parse_args()

    sub = args.subscription
    rg, name = "sdk-rg", "sdk-cluster"
    options = {}
    if args.ca:
        options.update(connection_verify=args.ca, connection_cert=args.client_cert)
    else:
        # The SDK's bearer-token policy refuses plain HTTP; a loopback frontend without client
        # authentication needs no token, so send none.
        options.update(authentication_policy=SansIOHTTPPolicy())
    client = AzureRedHatOpenShiftClient(
        credential=StaticTokenCredential(),
        subscription_id=sub,
        base_url=args.endpoint,
        per_call_policies=[] if args.no_referer else [ArmReferer()],
        polling_interval=0.05,
        retry_total=0,
        **options,
    )
    clusters = client.open_shift_clusters
    print(f"api-version {client._config.api_version}")

    subnet = (
        f"/subscriptions/{sub}/resourceGroups/vnet-rg/providers/Microsoft.Network"
        "/virtualNetworks/vnet/subnets/{}"
    )
    cluster = models.OpenShiftCluster(
        location=args.location,
        tags={"env": "sdk"},
        properties=models.OpenShiftClusterProperties(
            cluster_profile=models.ClusterProfile(
                pull_secret='{"auths":{}}',
                domain="sdkcluster",
                resource_group_id=f"/subscriptions/{sub}/resourceGroups/aro-sdk",
                fips_validated_modules="Disabled",
            ),
            service_principal_profile=models.ServicePrincipalProfile(
                client_id="33333333-3333-4333-8333-333333333333",
                client_secret="sdk-secret",
            ),
            network_profile=models.NetworkProfile(
                pod_cidr="10.128.0.0/14", service_cidr="172.30.0.0/16"
            ),
            master_profile=models.MasterProfile(
                vm_size="Standard_D8s_v3", subnet_id=subnet.format("master")
            ),
            worker_profiles=[
                models.WorkerProfile(
                    name="worker",
                    vm_size="Standard_D2s_v3",
                    disk_size_gb=128,
                    subnet_id=subnet.format("worker"),
                    count=3,
                )
            ],
            apiserver_profile=models.APIServerProfile(visibility="Public"),
            ingress_profiles=[models.IngressProfile(name="default", visibility="Public")],
        ),
    )

    created = clusters.begin_create_or_update(rg, name, cluster).result()
    check(created.properties.provisioning_state == "Succeeded",
          f"create ended in {created.properties.provisioning_state}")
    check(created.name == name, f"created name {created.name}")
    check(created.tags == {"env": "sdk"}, f"created tags {created.tags}")
    check(created.properties.service_principal_profile.client_secret is None,
          "the client secret came back")
    print("create: ok")

    got = clusters.get(rg, name)
    check(got.id.lower() == created.id.lower(), f"get id {got.id}")
    check(got.properties.cluster_profile.domain == "sdkcluster", "get domain")
    check(got.properties.worker_profiles[0].count == 3, "get worker count")
    print("get: ok")

    by_group = [c.name for c in clusters.list_by_resource_group(rg)]
    check(by_group == [name], f"list_by_resource_group {by_group}")
    everywhere = [c.name for c in clusters.list()]
    check(name in everywhere, f"list {everywhere}")
    print("list: ok")

    creds = clusters.list_credentials(rg, name)
    check(creds.kubeadmin_username == "kubeadmin", f"username {creds.kubeadmin_username}")
    check(creds.kubeadmin_password == args.kubeadmin_password, "kubeadmin password")
    admin = clusters.list_admin_credentials(rg, name)
    check(base64.b64decode(admin.kubeconfig).decode() == args.admin_kubeconfig,
          "admin kubeconfig")
    print("credentials: ok")

    updated = clusters.begin_update(
        rg, name, models.OpenShiftClusterUpdate(tags={"env": "sdk", "owner": "python"})
    ).result()
    check(updated.properties.provisioning_state == "Succeeded",
          f"update ended in {updated.properties.provisioning_state}")
    check(updated.tags == {"env": "sdk", "owner": "python"}, f"updated tags {updated.tags}")
    check(clusters.get(rg, name).tags == updated.tags, "tags after update")
    print("update: ok")

    clusters.begin_delete(rg, name).result()
    try:
        clusters.get(rg, name)
        check(False, "the cluster still exists after delete")
    except ResourceNotFoundError:
        pass
    check([c.name for c in clusters.list_by_resource_group(rg)] == [], "list after delete")
    print("delete: ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report any failure as a non-zero exit with its reason
        traceback.print_exc()
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
