"""Create the automation: when a run of the deployment completes, call a URL.

    python automation.py FLOW/DEPLOYMENT URL        e.g. main-flow/taxi-monthly http://127.0.0.1:8765/done

Prefect Cloud's automation wizard isn't available on a self-hosted server, so this does with
the client what the wizard does: a trigger (an event trigger expecting
`prefect.flow-run.Completed` from a flow run related to the deployment, reactive, threshold 1)
and an action (`call-webhook`, which needs a `Webhook` block: a `Webhook` block under
`send-notification` fails quietly, with only a `prefect.automation.action.failed` event).
"""

import sys
from datetime import timedelta

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client

WEBHOOK_BLOCK = "taxi-webhook"
PAYLOAD = (
    '{"event": "{{ event.event }}", "flow_run": "{{ event.resource.id }}", '
    '"flow_run_name": "{{ event.resource["prefect.resource.name"] }}", "deployment": "DEPLOYMENT"}'
)


def create_automation(deployment_name: str, url: str, name: str | None = None) -> str:
    """An automation that POSTs to `url` when a flow run of `deployment_name`
    ("FLOW/DEPLOYMENT") completes; returns its id. Running it again replaces the automation
    of the same name (default: "<deployment_name> completed") rather than adding one."""
    name = name or f"{deployment_name} completed"
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        for old in client.read_automations_by_name(name):
            client.delete_automation(old.id)

    webhook = Webhook(method="POST", url=url, headers={"Content-Type": "application/json"})
    block_id = webhook.save(WEBHOOK_BLOCK, overwrite=True)
    automation = Automation(
        name=name,
        description=f"POST to {url} when a run of {deployment_name} completes",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Completed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": f"prefect.deployment.{deployment.id}"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD.replace("DEPLOYMENT", deployment_name))],
    ).create()
    return str(automation.id)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python automation.py FLOW/DEPLOYMENT URL")
    print(create_automation(sys.argv[1], sys.argv[2]))
