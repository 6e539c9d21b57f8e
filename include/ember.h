/* Ember: Spark Streaming's DStream model in C.
 *
 * The one header applications include. It pulls in the record type, arenas, the RDD engine and
 * the stock functions. Sub-headers refuse to be included on their own. */
#ifndef EMBER_H
#define EMBER_H

#define EMBER_INSIDE
#include <ember/common.h>
#include <ember/version.h>
#include <ember/arena.h>
#include <ember/value.h>
#include <ember/rdd.h>
#include <ember/functions.h>
#include <ember/shared.h>
#include <ember/streaming.h>
#include <ember/checkpoint.h>
#include <ember/connectors.h>
#include <ember/ui.h>
#include <ember/kafka.h>
#include <ember/table.h>
#include <ember/sql.h>
#include <ember/eventtime.h>
#undef EMBER_INSIDE

#endif
