"""python automation.py "NYC taxi monthly/monthly" http://host:port/path"""

import sys

from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture


def create_automation(deployment_name: str, url: str, name: str | None = None) -> str:
    webhook_id = Webhook(method="POST", url=url).save("nyc-taxi-completed", overwrite=True)
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(deployment_name).id
        spec = AutomationCore(
            name=name or f"{deployment_name}: completed -> webhook",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Completed"},
                match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[
                CallWebhook(
                    block_document_id=webhook_id,
                    payload='{"flow_run_id": "{{ event.resource.id }}", "event": "{{ event.event }}"}',
                )
            ],
        )
        return str(client.create_automation(spec))


if __name__ == "__main__":
    print(create_automation(sys.argv[1], sys.argv[2]))
