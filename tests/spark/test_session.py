"""The Spark session: master from the settings, every file in the state folder, UI off."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from features.spark import session as spark_session
from fti.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_every_spark_folder_is_in_the_state_folder(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    conf = spark_session.spark_conf(settings)
    state = str((tmp_path / "state").resolve())
    for key in ("spark.local.dir", "spark.sql.warehouse.dir", "spark.jars.ivy"):
        assert conf[key].startswith(state + "/"), key
    assert f"-Dderby.system.home={state}/" in conf["spark.driver.extraJavaOptions"]
    assert f"-Djava.io.tmpdir={state}/" in conf["spark.driver.extraJavaOptions"]
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.eventLog.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_spark_master_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTI_SPARK_MASTER", raising=False)
    assert Settings().spark_master == "local[2]"
    monkeypatch.setenv("FTI_SPARK_MASTER", "spark://10.0.0.5:7077")
    assert Settings().spark_master == "spark://10.0.0.5:7077"


def test_without_java_the_session_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(spark_session, "_JAVA_CANDIDATES", ())
    assert spark_session.java_home() is None
    with pytest.raises(RuntimeError, match="Spark needs Java 17"):
        spark_session.get_session(Settings(state_dir=tmp_path / "state"))


@pytest.mark.spark
def test_session_uses_the_settings(spark: SparkSession) -> None:
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext.uiWebUrl is None
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    local_dir = Path(spark.sparkContext.getConf().get("spark.local.dir") or "")
    assert local_dir.is_dir()
    assert "spark-state" in str(local_dir)
