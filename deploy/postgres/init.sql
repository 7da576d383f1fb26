-- One database per service on the shared PostgreSQL (docker compose runs this once, on an
-- empty volume): MLflow's backend store, Prefect's database, Feast's SQL registry.
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE feast;
