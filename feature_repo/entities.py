"""Feast entities: the keys features are joined on."""

from feast import Entity, Project, ValueType

project = Project(name="fti", description="fti-platform: prices, bookings and guests features")

zone = Entity(
    name="zone",
    join_keys=["zone"],
    value_type=ValueType.STRING,
    description="Electricity bidding zone (ENTSO-E BZN code, e.g. SE3)",
    owner="energy@fti.example",
)
booking = Entity(
    name="booking",
    join_keys=["booking_id"],
    value_type=ValueType.STRING,
    description="One hotel booking, stable id derived from the raw row",
    owner="hospitality@fti.example",
)
hotel = Entity(
    name="hotel",
    join_keys=["hotel"],
    value_type=ValueType.STRING,
    description="Hotel name as in the bookings data",
    owner="hospitality@fti.example",
)
stay_week = Entity(
    name="stay_week",
    join_keys=["stay_week_start"],
    value_type=ValueType.STRING,
    description="ISO date of the Monday that starts a stay week",
    owner="hospitality@fti.example",
)
guest = Entity(
    name="guest",
    join_keys=["guest_id"],
    value_type=ValueType.STRING,
    description="A guest; repeated guests keep one id",
    owner="hospitality@fti.example",
)
station = Entity(
    name="station",
    join_keys=["station_id"],
    value_type=ValueType.INT64,
    description="SMHI weather station number",
    owner="energy@fti.example",
)
