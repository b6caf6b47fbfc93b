//! The one table definition: used by the local stack, the tests, and checked against
//! `template.yaml`. Keys: `pk`/`sk` (strings), an overloaded GSI `gsi1` (`gsi1pk`/`gsi1sk`),
//! a sparse GSI `gsi2` of channel members by join time (`gsi2pk`/`gsi2sk`), both projecting
//! ALL, TTL on `expires_at`, and a stream of new and old images (the outbox the
//! event router reads committed changes from).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::error::db_error;
use super::error::StoreError;
use super::keys::{GSI1, GSI1_PK, GSI1_SK, GSI2, GSI2_PK, GSI2_SK, PK, SK, TTL};

/// Attribute names of the table's keys, GSIs and TTL (for the template parity check).
pub const KEY_ATTRIBUTES: [&str; 6] = [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK];
pub const GSI_NAMES: [&str; 2] = [GSI1, GSI2];
pub const TTL_ATTRIBUTE: &str = TTL;
/// What each stream record carries: the item before and after the change.
pub const STREAM_VIEW: StreamViewType = StreamViewType::NewAndOldImages;

fn stream_specification() -> Result<StreamSpecification, StoreError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(STREAM_VIEW)
        .build()
        .map_err(StoreError::fault)
}

/// Turns the stream on for a table created before it existed (a long-lived local table).
pub async fn ensure_stream(client: &Client, table: &str) -> Result<(), StoreError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(db_error)?;
    let enabled = described
        .table
        .and_then(|t| t.stream_specification)
        .is_some_and(|spec| spec.stream_enabled);
    if !enabled {
        client
            .update_table()
            .table_name(table)
            .stream_specification(stream_specification()?)
            .send()
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(StoreError::fault)
}

/// Creates the table (on demand) with its GSI and TTL. Returns `false` if it already existed.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let mut definitions = Vec::new();
    for name in KEY_ATTRIBUTES {
        definitions.push(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::fault)?,
        );
    }
    let index = |name: &str, pk: &str, sk: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key_element(pk, KeyType::Hash)?)
            .key_schema(key_element(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(StoreError::fault)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(index(GSI1, GSI1_PK, GSI1_SK)?)
        .global_secondary_indexes(index(GSI2, GSI2_PK, GSI2_SK)?)
        .stream_specification(stream_specification()?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.code() == Some("ResourceInUseException") => return Ok(false),
        Err(err) => return Err(db_error(err)),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(StoreError::fault)?,
        )
        .send()
        .await
        .map_err(db_error)?;
    Ok(true)
}
