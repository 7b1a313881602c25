#!/bin/sh
# Placeholder until this end-to-end test lands.
exit 77
