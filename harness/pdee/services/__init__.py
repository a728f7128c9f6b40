"""The platform's services that a step reaches beyond its EE: data stores next, then the
HTTP trigger. Each runs on the host and reaches the EE over its existing channel."""
