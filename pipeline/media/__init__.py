"""Pure media stages: image derivatives, web video, document text and archive unpacking.

Each function takes paths and values from its caller and reads no configuration.
"""
