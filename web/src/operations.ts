// Every operation the client sends; graphql-codegen types them from ../schema.graphql.
import { graphql } from "./gql";

export const UserFields = graphql(`
  fragment UserFields on User {
    id
    username
    isPremium
    isStaff
  }
`);

export const LobbyFields = graphql(`
  fragment LobbyFields on Lobby {
    id
    name
    isPublic
    hasPassword
    maxParticipants
    participantCount
    status
    createdAt
    myRole
    isLocked
    slowModeSeconds
    readyCount
    tags
    owner {
      id
      username
    }
  }
`);

export const MemberFields = graphql(`
  fragment MemberFields on LobbyMember {
    role
    joinedAt
    isReady
    isMuted
    mutedUntil
    user {
      id
      username
    }
  }
`);

export const InviteFields = graphql(`
  fragment InviteFields on LobbyInvite {
    code
    createdAt
    expiresAt
    maxUses
    uses
    createdBy {
      id
      username
    }
  }
`);

export const MessageFields = graphql(`
  fragment MessageFields on Message {
    id
    content
    createdAt
    editedAt
    deleted
    clientMessageId
    sender {
      id
      username
    }
  }
`);

export const MeQuery = graphql(`
  query Me {
    me {
      ...UserFields
    }
  }
`);

export const RegisterMutation = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      refreshToken
      user {
        ...UserFields
      }
    }
  }
`);

export const LoginMutation = graphql(`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      accessToken
      refreshToken
      user {
        ...UserFields
      }
    }
  }
`);

export const RefreshTokenMutation = graphql(`
  mutation RefreshToken($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      refreshToken
      user {
        ...UserFields
      }
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export const LobbiesQuery = graphql(`
  query Lobbies($filter: LobbyFilter, $orderBy: LobbyOrder, $first: Int, $after: String) {
    lobbies(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...LobbyFields
        }
      }
    }
  }
`);

export const LobbyListUpdatesSubscription = graphql(`
  subscription LobbyListUpdates {
    lobbyListUpdates {
      lobby {
        ...LobbyFields
      }
    }
  }
`);

export const CreateLobbyMutation = graphql(`
  mutation CreateLobby($input: CreateLobbyInput!) {
    createLobby(input: $input) {
      ...LobbyFields
    }
  }
`);

export const JoinLobbyMutation = graphql(`
  mutation JoinLobby($lobbyId: ID!, $password: String) {
    joinLobby(lobbyId: $lobbyId, password: $password) {
      ...LobbyFields
    }
  }
`);

export const LeaveLobbyMutation = graphql(`
  mutation LeaveLobby($lobbyId: ID!) {
    leaveLobby(lobbyId: $lobbyId)
  }
`);

export const RoomQuery = graphql(`
  query Room($id: ID!) {
    lobby(id: $id) {
      ...LobbyFields
      members {
        ...MemberFields
      }
      onlineUsers {
        id
        username
      }
    }
  }
`);

export const MessagesQuery = graphql(`
  query Messages($lobbyId: ID!, $last: Int, $before: String) {
    messages(lobbyId: $lobbyId, last: $last, before: $before) {
      pageInfo {
        hasPreviousPage
        startCursor
      }
      edges {
        node {
          ...MessageFields
        }
      }
    }
  }
`);

export const SendMessageMutation = graphql(`
  mutation SendMessage($lobbyId: ID!, $content: String!, $clientMessageId: String) {
    sendMessage(lobbyId: $lobbyId, content: $content, clientMessageId: $clientMessageId) {
      ...MessageFields
    }
  }
`);

export const DeleteMessageMutation = graphql(`
  mutation DeleteMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
      deleted
      content
    }
  }
`);

export const SetTypingMutation = graphql(`
  mutation SetTyping($lobbyId: ID!, $isTyping: Boolean!) {
    setTyping(lobbyId: $lobbyId, isTyping: $isTyping)
  }
`);

export const StartGameMutation = graphql(`
  mutation StartGame($lobbyId: ID!) {
    startGame(lobbyId: $lobbyId) {
      ...LobbyFields
    }
  }
`);

export const EndGameMutation = graphql(`
  mutation EndGame($lobbyId: ID!) {
    endGame(lobbyId: $lobbyId) {
      ...LobbyFields
    }
  }
`);

export const KickUserMutation = graphql(`
  mutation KickUser($lobbyId: ID!, $userId: ID!, $reason: String) {
    kickUser(lobbyId: $lobbyId, userId: $userId, reason: $reason)
  }
`);

export const BanUserMutation = graphql(`
  mutation BanUser($lobbyId: ID!, $userId: ID!, $reason: String, $durationSeconds: Int) {
    banUser(lobbyId: $lobbyId, userId: $userId, reason: $reason, durationSeconds: $durationSeconds) {
      expiresAt
    }
  }
`);

export const AddModeratorMutation = graphql(`
  mutation AddModerator($lobbyId: ID!, $userId: ID!) {
    addModerator(lobbyId: $lobbyId, userId: $userId) {
      role
    }
  }
`);

export const RemoveModeratorMutation = graphql(`
  mutation RemoveModerator($lobbyId: ID!, $userId: ID!) {
    removeModerator(lobbyId: $lobbyId, userId: $userId) {
      role
    }
  }
`);

export const UpdateLobbyMutation = graphql(`
  mutation UpdateLobby($lobbyId: ID!, $input: UpdateLobbyInput!) {
    updateLobby(lobbyId: $lobbyId, input: $input) {
      ...LobbyFields
    }
  }
`);

export const MuteUserMutation = graphql(`
  mutation MuteUser($lobbyId: ID!, $userId: ID!, $reason: String, $durationSeconds: Int) {
    muteUser(lobbyId: $lobbyId, userId: $userId, reason: $reason, durationSeconds: $durationSeconds) {
      expiresAt
    }
  }
`);

export const UnmuteUserMutation = graphql(`
  mutation UnmuteUser($lobbyId: ID!, $userId: ID!) {
    unmuteUser(lobbyId: $lobbyId, userId: $userId)
  }
`);

export const SetReadyMutation = graphql(`
  mutation SetReady($lobbyId: ID!, $isReady: Boolean!) {
    setReady(lobbyId: $lobbyId, isReady: $isReady) {
      ...MemberFields
    }
  }
`);

export const EditMessageMutation = graphql(`
  mutation EditMessage($messageId: ID!, $content: String!) {
    editMessage(messageId: $messageId, content: $content) {
      ...MessageFields
    }
  }
`);

export const InvitesQuery = graphql(`
  query Invites($id: ID!) {
    lobby(id: $id) {
      id
      invites {
        ...InviteFields
      }
    }
  }
`);

export const CreateInviteMutation = graphql(`
  mutation CreateInvite($lobbyId: ID!, $maxUses: Int, $expiresInSeconds: Int) {
    createInvite(lobbyId: $lobbyId, maxUses: $maxUses, expiresInSeconds: $expiresInSeconds) {
      ...InviteFields
    }
  }
`);

export const RevokeInviteMutation = graphql(`
  mutation RevokeInvite($code: String!) {
    revokeInvite(code: $code)
  }
`);

export const JoinByInviteMutation = graphql(`
  mutation JoinByInvite($code: String!) {
    joinByInvite(code: $code) {
      ...LobbyFields
    }
  }
`);

export const LobbyEventsSubscription = graphql(`
  subscription LobbyEvents($lobbyId: ID!, $since: String) {
    lobbyEvents(lobbyId: $lobbyId, since: $since) {
      __typename
      lobbyId
      occurredAt
      ... on ChatMessageEvent {
        message {
          ...MessageFields
        }
      }
      ... on MessageDeletedEvent {
        messageId
        deletedBy {
          id
          username
        }
      }
      ... on PresenceJoinEvent {
        user {
          id
          username
        }
      }
      ... on PresenceLeaveEvent {
        user {
          id
          username
        }
      }
      ... on TypingEvent {
        user {
          id
          username
        }
        isTyping
        expiresAt
      }
      ... on MemberJoinedEvent {
        member {
          ...MemberFields
        }
      }
      ... on MemberUpdatedEvent {
        member {
          ...MemberFields
        }
      }
      ... on MessageEditedEvent {
        message {
          ...MessageFields
        }
      }
      ... on MessagesPurgedEvent {
        messageIds
        user {
          id
          username
        }
        purgedBy {
          id
          username
        }
      }
      ... on MemberLeftEvent {
        user {
          id
          username
        }
      }
      ... on ModerationEvent {
        action
        actor {
          id
          username
        }
        target {
          id
          username
        }
        reason
        expiresAt
      }
      ... on LobbyUpdatedEvent {
        lobby {
          ...LobbyFields
        }
      }
      ... on ReplayCompletedEvent {
        recovered
        replayedCount
      }
    }
  }
`);
