//! The ready-to-paste walkthrough `aro local` prints: where each piece listens, and the curl and
//! kubectl commands that create, watch, use and delete a cluster in the demo VNet.

use arm_emulator::demo;

use crate::LOCAL_LOCATION;
use crate::system::LocalSystem;

impl LocalSystem {
    /// The ready-to-paste walkthrough `aro local` prints.
    pub fn banner(&self) -> String {
        let sub = demo::SUBSCRIPTION;
        let base = &self.frontend_url;
        let cluster = format!(
            "/subscriptions/{sub}/resourceGroups/demo-rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo"
        );
        let curl = match &self.certs {
            Some(c) => format!(
                "curl -sS --cacert {} --cert {} --key {}",
                c.server_cert.display(),
                c.client_cert.display(),
                c.client_key.display()
            ),
            None => "curl -sS".to_string(),
        };
        let kubeconfig = self
            .kubeconfig_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(in memory)".into());
        let arm = self
            .emulator
            .as_ref()
            .map(|e| e.base_url.clone())
            .unwrap_or_else(|| self.azure.arm_endpoint.to_string());
        let api = "api-version=2023-11-22";
        let body = format!(
            r#"{{"location":"{LOCAL_LOCATION}","properties":{{"clusterProfile":{{"domain":"demo","resourceGroupId":"/subscriptions/{sub}/resourceGroups/aro-demo","pullSecret":"{{\"auths\":{{}}}}"}},"servicePrincipalProfile":{{"clientId":"{cid}","clientSecret":"{secret}"}},"networkProfile":{{"podCidr":"10.128.0.0/14","serviceCidr":"172.30.0.0/16"}},"masterProfile":{{"vmSize":"Standard_D8s_v3","subnetId":"{master}"}},"workerProfiles":[{{"name":"worker","vmSize":"Standard_D4s_v3","diskSizeGB":128,"subnetId":"{worker}","count":3}}],"apiserverProfile":{{"visibility":"Public"}},"ingressProfiles":[{{"name":"default","visibility":"Public"}}]}}}}"#,
            cid = demo::CLUSTER_CLIENT_ID,
            secret = demo::CLUSTER_CLIENT_SECRET,
            master = demo::subnet_id("master"),
            worker = demo::subnet_id("worker"),
        );
        format!(
            r#"aro local is running.

  ARM frontend:        {base}
  frontend metrics:    {metrics}
  arm-emulator:        {arm}
  management cluster:  {mgmt}
  kubeconfig:          {kubeconfig}
  data dir:            {data}

Create a cluster in the demo VNet:

  {curl} -X PUT -H 'Content-Type: application/json' \
    '{base}{cluster}?{api}' \
    -d '{body}'

Watch it (provisioningState goes Creating -> Succeeded):

  {curl} '{base}{cluster}?{api}' | grep -o '"provisioningState":"[A-Za-z]*"'
  kubectl --kubeconfig {kubeconfig} get openshiftclusters -A -o wide

Get its credentials and use them:

  {curl} -X POST '{base}{cluster}/listCredentials?{api}'
  {curl} -X POST '{base}{cluster}/listAdminCredentials?{api}' \
    | sed -e 's/.*"kubeconfig":"\([^"]*\)".*/\1/' | base64 -d > demo.kubeconfig
  kubectl --kubeconfig demo.kubeconfig get nodes,clusterversion

Delete it:

  {curl} -X DELETE '{base}{cluster}?{api}'
"#,
            mgmt = self
                .devcluster
                .as_ref()
                .map(|d| d.url.clone())
                .unwrap_or_else(|| "(from --kubeconfig)".into()),
            data = self
                .config
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "(in memory)".into()),
            metrics = self
                .frontend_metrics_url
                .as_deref()
                .unwrap_or("(not served)"),
        )
    }
}
