package org.aoemp.block;

/**
 * Completion of one block request. Called exactly once, on an initiator thread: it must not
 * block (hand heavy work to another executor).
 */
@FunctionalInterface
public interface IoCallback
{
    /** @param error null on success, else why the request failed. */
    void complete(IoError error);
}
