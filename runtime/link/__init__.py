"""The link to the swarm: MQTT transport, in-process bus, embedded broker."""
