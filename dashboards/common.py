"""Dashboard links shared by the datastore, queue and host dashboards."""

from __future__ import annotations

import grafanalib.core as G

from obstack.dashboards.panels import link, tagged_links
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import Spec


def datastore_links(spec: Spec, names: list[str]) -> list[G.DashboardLink]:
    """Alerts & SLOs, then every service depending on one of ``names`` (whose users feel its trouble)."""
    result = [link("Alerts & SLOs", ids.alerts_dashboard(spec), "Firing alerts and every SLO's budget")]
    wanted = set(names)
    # A service using a queue also depends on the queue's datastore.
    for queue in spec.queues:
        if queue.datastore in wanted:
            wanted.add(queue.name)
    for service in spec.services:
        if wanted & set(service.depends_on):
            result.append(link(service.name, ids.service_dashboard(spec, service.name), f"Service {service.name}"))
    return [*result, tagged_links(spec.project)]
