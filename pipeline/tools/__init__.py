"""Tools around the engine: the sample data, the split and corrupt tools, the API client."""
