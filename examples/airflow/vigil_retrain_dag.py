"""Evaluate a model in Vigil, then retrain it, from Airflow.

Vigil's worker serves a small run API (README, "Airflow"): POST
/v1/models/{model}/evaluations and /retrains start the workflows and answer
with their ids and a status_url; GET of the status_url reports the run's
status (running, completed, failed, ...). This DAG starts each with the HTTP
provider's HttpOperator and waits for it with VigilRunSensor, a deferrable
sensor: between two polls it hands its slot back to the triggerer.

Setup: an HTTP connection "vigil" whose host is the worker's address
(http://vigil-worker:8088) and whose password is the token the worker reads
from worker.api_token_env. Needs apache-airflow-providers-http (and, on
Airflow 3, apache-airflow-providers-standard).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.exceptions import AirflowException
from airflow.providers.http.hooks.http import HttpHook
from airflow.providers.http.operators.http import HttpOperator

try:  # Airflow 3
    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    from airflow.sdk import DAG, BaseSensorOperator
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.sensors.base import BaseSensorOperator
    from airflow.triggers.temporal import TimeDeltaTrigger

AUTH = {"Authorization": "Bearer {{ conn.vigil.password }}", "Content-Type": "application/json"}


class VigilRunSensor(BaseSensorOperator):
    """Waits until a Vigil workflow run is no longer running.

    Succeeds when it completed and fails on any other end (failed, canceled,
    terminated, timed_out, ...). Deferrable: each wait is a TimeDeltaTrigger
    on the triggerer, not a worker slot.
    """

    template_fields = ("status_url",)

    def __init__(self, *, status_url: str, http_conn_id: str = "vigil", poll: timedelta = timedelta(seconds=30), **kwargs):
        super().__init__(**kwargs)
        self.status_url = status_url
        self.http_conn_id = http_conn_id
        self.poll = poll

    def poke(self, context) -> bool:
        hook = HttpHook(method="GET", http_conn_id=self.http_conn_id)
        token = hook.get_connection(self.http_conn_id).password
        run = hook.run(self.status_url, headers={"Authorization": f"Bearer {token}"}).json()
        self.log.info("Vigil run %s/%s: %s", run["workflow_id"], run["run_id"], run["status"])
        if run["status"] == "completed":
            return True
        if run["status"] in ("running", "paused"):
            return False
        raise AirflowException(f"Vigil run {run['workflow_id']}/{run['run_id']} ended {run['status']}")

    def execute(self, context, event=None):
        # Called again by the triggerer's event after each wait.
        if not self.poke(context):
            self.defer(trigger=TimeDeltaTrigger(self.poll), method_name="execute")

with DAG(
    dag_id="vigil_retrain_churn",
    start_date=datetime(2026, 1, 1),
    schedule="@weekly",
    catchup=False,
    params={"model": "churn"},
    dagrun_timeout=timedelta(hours=8),  # bounds the sensors' waits too
    tags=["vigil"],
) as dag:
    evaluate = HttpOperator(
        task_id="evaluate",
        http_conn_id="vigil",
        method="POST",
        endpoint="/v1/models/{{ params.model }}/evaluations",
        headers=AUTH,
        data=json.dumps({}),
        response_filter=lambda response: response.json()["status_url"],
    )
    evaluated = VigilRunSensor(
        task_id="evaluated",
        status_url="{{ ti.xcom_pull(task_ids='evaluate') }}",
    )
    retrain = HttpOperator(
        task_id="retrain",
        http_conn_id="vigil",
        method="POST",
        endpoint="/v1/models/{{ params.model }}/retrains",
        headers=AUTH,
        # A retry of this task while the retrain runs gets that run back
        # (200, "started": false), not a second retrain.
        data=json.dumps({"reason": "weekly retrain from Airflow", "actor": "airflow:{{ dag.dag_id }}/{{ run_id }}"}),
        response_filter=lambda response: response.json()["status_url"],
    )
    retrained = VigilRunSensor(
        task_id="retrained",
        status_url="{{ ti.xcom_pull(task_ids='retrain') }}",
        poll=timedelta(minutes=2),
    )
    evaluate >> evaluated >> retrain >> retrained
